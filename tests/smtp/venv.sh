#!/usr/bin/env bash
# Creates (once) the Python virtual environment the SMTP tests use, inside the
# repository's target folder, and prints its python. Safe to run from several tests at
# once: the first one builds it under a lock, the others wait.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="${HERALD_TEST_VENV:-$root/target/py-smtp}"
mkdir -p "$(dirname "$venv")"
exec 9>"$venv.lock"
flock 9
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import aiosmtpd' 2>/dev/null; then
  rm -rf "$venv"
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt" >&2
fi
echo "$venv/bin/python"
