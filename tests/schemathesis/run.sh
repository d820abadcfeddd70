#!/usr/bin/env bash
# Runs Schemathesis against the admin API's OpenAPI document, on a debug build of
# Herald with a throwaway SQLite database, on 127.0.0.1 only: every check, a bounded
# number of examples per operation. Exits non-zero on any failure.
#
#   tests/schemathesis/run.sh [extra schemathesis arguments]
#
# The virtual environment is made once under target/ (HERALD_SCHEMATHESIS_VENV to put it
# elsewhere); EXAMPLES (default 10) bounds the examples per operation.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
venv="${HERALD_SCHEMATHESIS_VENV:-$root/target/py-schemathesis}"
examples="${EXAMPLES:-10}"

mkdir -p "$(dirname "$venv")"
exec 9>"$venv.lock"
flock 9
if [ ! -x "$venv/bin/schemathesis" ] || ! "$venv/bin/pip" freeze 2>/dev/null | grep -qxF -f "$here/requirements.txt"; then
  rm -rf "$venv"
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt" >&2
fi
exec 9>&-

(cd "$root" && cargo build -p herald --quiet)
bin="$target/debug/herald"

work="$(mktemp -d)"
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:$port"
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# Without a terminal the first admin token goes to herald-admin-token beside the
# database. The wrong-key throttle is off: the ignored_auth check sends wrong keys on
# purpose, and a throttled client would answer 429 to everything after.
(
  cd "$work"
  HERALD_DATABASE_URL="sqlite://$work/herald.db?mode=rwc" \
  HERALD_BIND="127.0.0.1:$port" \
  HERALD_PUBLIC_URL="$base" \
  HERALD_MAIL_DIR="$work/mail" \
  HERALD_AUTH_FAILURE_LIMIT=0 \
  HERALD_LOG=warn \
    exec "$bin" serve --demo </dev/null >"$work/herald.log" 2>&1
) &
pid=$!
for _ in $(seq 1 100); do
  if [ -s "$work/herald-admin-token" ] && curl -fsS "$base/readyz" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$pid" 2>/dev/null; then cat "$work/herald.log" >&2; exit 1; fi
  sleep 0.2
done
token="$(tr -d '[:space:]' <"$work/herald-admin-token")"
[ -n "$token" ] || { echo "no admin token in $work" >&2; cat "$work/herald.log" >&2; exit 1; }

status=0
# From the scratch folder: Schemathesis keeps a cache (.schemathesis/) where it runs.
cd "$work"
"$venv/bin/schemathesis" --config-file "$here/schemathesis.toml" run "$base/v1/openapi.json" \
  --url "$base" \
  --header "Authorization: OAuth $token" \
  --checks all \
  --max-examples "$examples" \
  --seed 1 \
  --workers 1 \
  --generation-database none \
  --no-color \
  --report-dir "$work/report" \
  "$@" || status=$?
if [ "$status" != 0 ]; then
  echo "--- herald log (last 50 lines) ---" >&2
  tail -n 50 "$work/herald.log" >&2
fi
exit "$status"
