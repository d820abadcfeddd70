#!/usr/bin/env bash
# Lighthouse on every public page of the demo, in Debian's headless Chromium: prints the
# performance, accessibility, best-practices and SEO scores and the bytes transferred per
# page, and keeps the JSON reports. Not part of CI (it needs the npm registry once);
# run it by hand:
#
#   tests/lighthouse/run.sh            # reports in target/lighthouse/
#
# Installs Lighthouse from npm into tests/lighthouse/node_modules (ignored by git) on
# first use, builds and starts `herald serve --demo` on a free loopback port in a
# temporary directory, and stops it on exit. Set LIGHTHOUSE_FORM=mobile for the phone
# profile (default desktop).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
chrome=${CHROME_PATH:-/usr/bin/chromium}
[ -x "$chrome" ] || { echo "Chromium not found at $chrome (apt-get install chromium)" >&2; exit 1; }
if [ ! -x "$here/node_modules/.bin/lighthouse" ]; then
  (cd "$here" && npm install --no-audit --no-fund --silent lighthouse@12.8.2 >/dev/null)
fi
cargo build -q -p herald --bin herald --manifest-path "$root/Cargo.toml"
bin=$root/target/debug/herald
out=$root/target/lighthouse
mkdir -p "$out"
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
base=http://127.0.0.1:$port
(cd "$work" && HERALD_LOG=warn exec "$bin" serve --demo --bind "127.0.0.1:$port" --public-url "$base" >"$work/herald.log" 2>&1) &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do curl -fs "$base/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
summary=$(curl -fs "$base/api/v2/incidents.json")
pages=("/" "/history" "/subscribe" "/feeds")
for id in $(printf '%s' "$summary" | python3 -c 'import json,sys; print(" ".join(i["id"] for i in json.load(sys.stdin)["incidents"][:3]))'); do
  pages+=("/incidents/$id")
done
form=${LIGHTHOUSE_FORM:-desktop}
preset=()
[ "$form" = desktop ] && preset=(--preset=desktop)
printf '%-40s %5s %5s %5s %5s %9s\n' page perf a11y bp seo bytes
for p in "${pages[@]}"; do
  name=$(printf '%s' "$p" | tr '/' '_')
  CHROME_PATH=$chrome "$here/node_modules/.bin/lighthouse" "$base$p" "${preset[@]}" \
    --chrome-flags="--headless=new --no-sandbox --disable-gpu" --quiet \
    --output=json --output-path="$out/${form}${name:-_root}.json" >/dev/null 2>&1 || true
  python3 - "$out/${form}${name:-_root}.json" "$p" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
c = r["categories"]
s = lambda k: round((c[k]["score"] or 0) * 100)
bytes_ = r["audits"]["total-byte-weight"]["numericValue"]
print(f'{sys.argv[2]:<40} {s("performance"):>5} {s("accessibility"):>5} {s("best-practices"):>5} {s("seo"):>5} {bytes_:>9.0f}')
for k in ("accessibility", "best-practices", "seo", "performance"):
    for ref in c[k]["auditRefs"]:
        a = r["audits"][ref["id"]]
        if ref["weight"] and a["score"] is not None and a["score"] < 1:
            print(f'    {k}: {ref["id"]}: {a["title"]}')
PY
done
