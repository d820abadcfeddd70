#!/usr/bin/env bash
# The mail fan-out benchmark (see tests/bench/fanout.rs): builds the release binaries and
# prints, for 10,000 and 100,000 subscribers, the time to enqueue, to the first and the
# last accepted message, messages per second and Herald's peak RSS, beside lettre alone
# sending to the same local SMTP sink.
#
#   tests/bench/fanout.sh                      # BENCH_AUDIENCES="10000 100000"
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release -p herald --bin herald -p herald-tests --bin herald-fanout
exec target/release/herald-fanout
