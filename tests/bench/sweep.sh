#!/usr/bin/env bash
# The data-size benchmark (see tests/bench/sweep.rs): builds the release binaries and
# prints, for 1,000, 5,000 and 20,000 incidents, Herald's write latency, rebuild time,
# memory, start-up time and public serving beside nginx.
#
#   tests/bench/sweep.sh
#
# Environment: BENCH_SIZES (default "1000 5000 20000"), BENCH_DURATION (seconds per
# wrk case, default 10). Installs wrk and nginx with apt-get when missing.
set -euo pipefail
cd "$(dirname "$0")/../.."
missing=()
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
command -v nginx >/dev/null 2>&1 || [[ -x /usr/sbin/nginx ]] || missing+=(nginx)
command -v curl >/dev/null 2>&1 || missing+=(curl)
if ((${#missing[@]})); then
    sudo=(); [[ $(id -u) -eq 0 ]] || sudo=(sudo)
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
cargo build --release -p herald --bin herald -p herald-tests --bin herald-bench
exec target/release/herald-bench
