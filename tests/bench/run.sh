#!/usr/bin/env bash
# Throughput and latency of Herald's public hot path, beside nginx serving the same bytes.
#
#   tests/bench/run.sh
#
# Builds the release binary (`cargo build --release -p herald`), starts
# `herald serve --demo` on a free loopback port in a temporary directory, saves `/` and
# `/api/v2/summary.json` from it (no Accept-Encoding: identity bodies) as static files,
# serves those files from nginx (its own prefix, config, pid and log in the same
# temporary directory; worker_processes 2; access_log off), then runs wrk against both,
# interleaved, for each URL at 64 and 256 connections, and prints req/s, p50 and p99 and
# herald/nginx. Everything stops and is removed on exit.
#
# Goal: at 64 connections, herald >= 0.8 of nginx's req/s with p99 < 10 ms.
#
# Environment (all optional):
#   BENCH_DURATION   seconds measured per case (default 10)
#   BENCH_WARMUP     seconds of warm-up per case, not measured (default 2)
#   BENCH_CONNS      connection counts (default "64 256")
#   BENCH_THREADS    wrk threads (default 2)
#   BENCH_ROUNDS     repeat every case this many times, interleaved, and report medians
#                    (default 1; 3 gives steadier figures on a shared or virtual machine)
#   BENCH_SKIP_BUILD set to 1 to use the existing target/release/herald as is
#   BENCH_KEEP       set to 1 to keep the temporary directory (logs, raw wrk output)
#   HERALD_WORKERS   passed through to herald (default: one per core)
#
# Traffic goes to 127.0.0.1 only. The load generator runs on the same cores as the
# servers, so absolute numbers understate both; the ratio is what to read.

set -euo pipefail

DURATION=${BENCH_DURATION:-10}
WARMUP=${BENCH_WARMUP:-2}
CONNS=${BENCH_CONNS:-"64 256"}
THREADS=${BENCH_THREADS:-2}
ROUNDS=${BENCH_ROUNDS:-1}
GOAL_RATIO=0.8
GOAL_P99_MS=10
GOAL_CONNS=64
PATHS=("/" "/api/v2/summary.json")
for v in DURATION WARMUP THREADS ROUNDS; do
    [[ ${!v} =~ ^[1-9][0-9]*$ ]] || { echo "bench: BENCH_$v must be a positive integer" >&2; exit 2; }
done
for c in $CONNS; do
    [[ $c =~ ^[1-9][0-9]*$ ]] || { echo "bench: BENCH_CONNS must be positive integers" >&2; exit 2; }
done

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
HERALD_BIN=$TARGET_DIR/release/herald

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'bench: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------------------- tools

ensure_tools() {
    local missing=()
    command -v wrk >/dev/null 2>&1 || missing+=(wrk)
    command -v nginx >/dev/null 2>&1 || [[ -x /usr/sbin/nginx ]] || missing+=(nginx)
    command -v curl >/dev/null 2>&1 || missing+=(curl)
    command -v pgrep >/dev/null 2>&1 || missing+=(procps)
    if ((${#missing[@]})); then
        local sudo=()
        if [[ $(id -u) -ne 0 ]]; then
            command -v sudo >/dev/null 2>&1 || die "missing ${missing[*]} and not root: install them"
            sudo=(sudo)
        fi
        log "installing ${missing[*]} (apt-get)"
        "${sudo[@]}" apt-get update -qq
        DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
    NGINX=$(command -v nginx 2>/dev/null || echo /usr/sbin/nginx)
}

# ---------------------------------------------------------------------------- processes

TMP=""
HERALD_PID=""
NGINX_PID=""

stop() {
    local pid=$1
    [[ -n $pid ]] || return 0
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    stop "$NGINX_PID"
    stop "$HERALD_PID"
    if [[ -n $TMP && -d $TMP ]]; then
        if [[ ${BENCH_KEEP:-0} == 1 ]]; then
            log "kept $TMP"
        else
            rm -rf "$TMP"
        fi
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A port nothing on 127.0.0.1 answers on.
free_port() {
    local p
    for _ in $(seq 1 100); do
        p=$((20000 + RANDOM % 40000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            echo "$p"
            return 0
        fi
    done
    die "no free port found"
}

# status code of GET url, or 000
http_code() {
    curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$1" || true
}

wait_200() {
    local url=$1 pid=$2 what=$3 logf=$4
    for _ in $(seq 1 600); do
        kill -0 "$pid" 2>/dev/null || { tail -n 20 "$logf" >&2 || true; die "$what exited before answering $url"; }
        [[ $(http_code "$url") == 200 ]] && return 0
        sleep 0.1
    done
    tail -n 20 "$logf" >&2 || true
    die "$what did not answer 200 on $url within 60 s"
}

# ---------------------------------------------------------------------------- wrk

# Milliseconds from a wrk duration such as 812.00us, 1.52ms, 1.01s or 2.00m.
to_ms() {
    awk -v v="$1" 'BEGIN {
        n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
        if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000
        printf "%.3f", n
    }'
}

# Prints "rps p50_ms p99_ms errors" from wrk --latency output on stdin.
parse_wrk() {
    local out rps p50 p99 errs
    out=$(cat)
    rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
    p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    errs=$(awk '
        /Socket errors:/ { gsub(/,/, ""); e += $4 + $6 + $8 + $10 }
        /Non-2xx or 3xx responses:/ { e += $NF }
        END { print e + 0 }' <<<"$out")
    [[ -n $rps && -n $p50 && -n $p99 ]] || { printf '%s\n' "$out" >&2; die "could not parse wrk output"; }
    printf '%s %s %s %s\n' "$rps" "$(to_ms "$p50")" "$(to_ms "$p99")" "$errs"
}

# utime+stime in clock ticks of PID and its direct children (nginx's workers)
cpu_ticks() {
    local t=0 p s
    for p in "$1" $(pgrep -P "$1" || true); do
        s=$(cat "/proc/$p/stat" 2>/dev/null) || continue
        s=${s##*) }
        # shellcheck disable=SC2086
        set -- $s
        t=$((t + ${12} + ${13}))
    done
    echo "$t"
}

# busy and total clock ticks of the whole machine
machine_ticks() {
    awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat
}

# Sets variable $1 to the CPU seconds this shell's finished children used (bash's
# `times`, second line). `times` must run in this shell, not in a pipe or $( ).
children_cpu() {
    local f=$TMP/times.$BASHPID
    times >"$f"
    printf -v "$1" '%s' "$(awk 'NR == 2 {
        n = 0
        for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); n += a[1] * 60 + a[2] }
        printf "%.3f", n
    }' "$f")"
}

# bench NAME URL CONNS PID -> "rps p50 p99 errors req_per_cpu_s other_pct"
# raw wrk output is kept in $TMP/wrk. req_per_cpu_s: requests per CPU-second the server
# used; other_pct: share of the machine's CPU used by neither the server nor wrk
# (other programs on the machine disturbing the measurement).
bench() {
    local name=$1 url=$2 c=$3 pid=$4 raw s0 s1 m0 m1 w0 w1 parsed reqs mb0 mt0 mb1 mt1
    raw=$TMP/wrk/$name-$c-$(tr -c 'a-zA-Z0-9' '_' <<<"${url#http://*/}").txt
    wrk -t"$THREADS" -c"$c" -d"${WARMUP}s" "$url" >/dev/null
    s0=$(cpu_ticks "$pid"); m0=$(machine_ticks); children_cpu w0
    wrk -t"$THREADS" -c"$c" -d"${DURATION}s" --timeout 5s --latency "$url" >"$raw"
    s1=$(cpu_ticks "$pid"); m1=$(machine_ticks); children_cpu w1
    parsed=$(parse_wrk <"$raw")
    reqs=$(awk '/ requests in / { print $1 }' "$raw")
    read -r mb0 mt0 <<<"$m0"
    read -r mb1 mt1 <<<"$m1"
    awk -v parsed="$parsed" -v reqs="$reqs" -v hz="$CLK_TCK" -v s="$((s1 - s0))" \
        -v busy="$((mb1 - mb0))" -v total="$((mt1 - mt0))" -v w="$w0" -v w1="$w1" 'BEGIN {
        srv = s / hz; wrk = w1 - w
        other = (busy / hz) - srv - wrk; if (other < 0) other = 0
        printf "%s %.0f %.1f\n", parsed, (srv > 0 ? reqs / srv : 0), (total > 0 ? 100 * other / (total / hz) : 0)
    }'
}

# ---------------------------------------------------------------------------- main

ensure_tools
CLK_TCK=$(getconf CLK_TCK)

if [[ ${BENCH_SKIP_BUILD:-0} != 1 ]]; then
    log "cargo build --release -p herald (several minutes on 2 cores the first time)"
    (cd "$ROOT" && cargo build --release -p herald)
fi
[[ -x $HERALD_BIN ]] || die "$HERALD_BIN not found (build it, or unset BENCH_SKIP_BUILD)"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/herald-bench.XXXXXX")
# nginx workers may drop to an unprivileged user: let them read the files.
chmod 755 "$TMP"
mkdir -p "$TMP/herald" "$TMP/headers" "$TMP/nginx/logs" "$TMP/www/api/v2" "$TMP/wrk"

# -- herald
HPORT=$(free_port)
H=http://127.0.0.1:$HPORT
log "starting herald on $H (working directory $TMP/herald)"
# Only HERALD_WORKERS passes through: the database, config and bind are the benchmark's.
for v in $(compgen -e HERALD_ || true); do
    [[ $v == HERALD_WORKERS ]] || unset "$v"
done
(
    cd "$TMP/herald"
    export HERALD_LOG_FORMAT=json RUST_LOG=warn
    exec "$HERALD_BIN" serve --demo --bind "127.0.0.1:$HPORT"
) >"$TMP/herald/herald.log" 2>&1 &
HERALD_PID=$!
wait_200 "$H/readyz" "$HERALD_PID" herald "$TMP/herald/herald.log"

# -- the same bytes as static files
declare -A FILE CTYPE
FILE["/"]=index.html
FILE["/api/v2/summary.json"]=api/v2/summary.json
for p in "${PATHS[@]}"; do
    CTYPE[$p]=$(curl -sS -f --max-time 5 -o "$TMP/www/${FILE[$p]}" \
        -D "$TMP/headers/${FILE[$p]//\//_}" -w '%{content_type}' "$H$p") \
        || die "herald did not serve $p"
    [[ -n ${CTYPE[$p]} ]] || die "herald sent no content type for $p"
done
chmod -R a+rX "$TMP/www"

# -- nginx
NPORT=$(free_port)
N=http://127.0.0.1:$NPORT
NGX=$TMP/nginx
# nginx add_header lines repeating the headers herald sent for path $1, so that both
# send about the same bytes (nginx adds its own Date, ETag, Last-Modified, Content-Length).
nginx_headers() {
    local name value
    while IFS=: read -r name value; do
        name=${name%$'\r'}
        value=${value%$'\r'}
        value=${value# }
        [[ -n $name && $name != HTTP/* ]] || continue
        case ${name,,} in
        date | server | connection | keep-alive | transfer-encoding | content-length | \
            content-type | content-encoding | etag | last-modified | accept-ranges) continue ;;
        esac
        if [[ $value == *[\$\"\\]* ]]; then
            log "not repeating header $name in nginx (needs quoting): $value"
            continue
        fi
        printf '            add_header %s "%s";\n' "$name" "$value"
    done <"$TMP/headers/${FILE[$1]//\//_}"
}
nginx_location() {
    local p=$1
    cat <<EOF
        location = $p {
            default_type "${CTYPE[$p]}";
$(nginx_headers "$p")
            try_files /${FILE[$p]} =404;
        }
EOF
}
cat >"$NGX/nginx.conf" <<EOF
# generated by tests/bench/run.sh
daemon off;
master_process on;
worker_processes 2;
pid $NGX/nginx.pid;
error_log $NGX/logs/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $NGX/client_body;
    proxy_temp_path $NGX/proxy;
    fastcgi_temp_path $NGX/fastcgi;
    uwsgi_temp_path $NGX/uwsgi;
    scgi_temp_path $NGX/scgi;
    types {}
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_timeout 65;
    keepalive_requests 100000000;
    server_tokens off;
    server {
        listen 127.0.0.1:$NPORT;
        root $TMP/www;
$(for p in "${PATHS[@]}"; do nginx_location "$p"; done)
    }
}
EOF
log "starting nginx on $N (prefix $NGX)"
"$NGINX" -p "$NGX" -c "$NGX/nginx.conf" -e "$NGX/logs/error.log" >"$NGX/logs/stdout.log" 2>&1 &
NGINX_PID=$!
wait_200 "$N/" "$NGINX_PID" nginx "$NGX/logs/error.log"

# -- same answers before measuring
for p in "${PATHS[@]}"; do
    size=$(stat -c %s "$TMP/www/${FILE[$p]}")
    for target in "herald $H" "nginx $N"; do
        read -r name base <<<"$target"
        read -r code len ctype <<<"$(curl -s -o /dev/null --max-time 5 \
            -w '%{http_code} %{size_download} %{content_type}' "$base$p" || true)"
        [[ $code == 200 ]] || die "$name answered $code for $p"
        [[ $len == "$size" ]] || die "$name sent $len bytes for $p, the saved file has $size"
        log "$name $p: 200, $len bytes, $ctype"
    done
done

# -- measure, herald and nginx interleaved per case
cat <<EOF

Herald vs nginx on loopback: $(nproc) cores, wrk -t$THREADS, ${WARMUP}s warm-up + ${DURATION}s per case, $ROUNDS round(s).
wrk shares the same $(nproc) cores as the server under test, so absolute req/s understate
both servers; compare the ratio. Bodies are identity (no Accept-Encoding), same bytes.
herald: $("$HERALD_BIN" --version 2>/dev/null || echo herald), workers ${HERALD_WORKERS:-default (one per core)}; $("$NGINX" -v 2>&1 | sed 's/^nginx version: //'), worker_processes 2

EOF

lines_before=$(wc -l <"$TMP/herald/herald.log")
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
# One entry per round, space-separated, keyed by name,path,conns.
declare -A RPS P50 P99 ERR EFF OTHER
total=$((ROUNDS * $(wc -w <<<"$CONNS") * ${#PATHS[@]} * 2))
i=0
for ((round = 1; round <= ROUNDS; round++)); do
    for p in "${PATHS[@]}"; do
        for c in $CONNS; do
            for target in "herald $H $HERALD_PID" "nginx $N $NGINX_PID"; do
                read -r name base pid <<<"$target"
                i=$((i + 1))
                log "[$i/$total] round $round: $name $p c=$c"
                res=$(bench "$name" "$base$p" "$c" "$pid")
                read -r r l50 l99 e eff oth <<<"$res"
                k=$name,$p,$c
                RPS[$k]+="$r "
                P50[$k]+="$l50 "
                P99[$k]+="$l99 "
                ERR[$k]+="$e "
                EFF[$k]+="$eff "
                OTHER[$k]+="$oth "
            done
        done
    done
done

# -- report
kill -0 "$HERALD_PID" 2>/dev/null || die "herald died during the run"
rss=$(awk '/^VmRSS:/ {printf "%.1f MiB", $2 / 1024}' "/proc/$HERALD_PID/status")
hwm=$(awk '/^VmHWM:/ {printf "%.1f MiB", $2 / 1024}' "/proc/$HERALD_PID/status")
loglines=$(($(wc -l <"$TMP/herald/herald.log") - lines_before))
# herald rebuilds its snapshot at least once a minute: say if the bytes moved meanwhile.
drift=""
for p in "${PATHS[@]}"; do
    now=$(curl -s -o /dev/null --max-time 5 -w '%{size_download}' "$H$p" || true)
    was=$(stat -c %s "$TMP/www/${FILE[$p]}")
    [[ $now == "$was" ]] || drift+=" $p: $was -> $now bytes;"
done

# median, min, max and sum of the numbers given as arguments
stats() {
    printf '%s\n' "$@" | sort -g | awk '
        { v[NR] = $1; s += $1 }
        END {
            m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
            print m, v[1], v[NR], s
        }'
}
med() { stats "$@" | cut -d' ' -f1; }

rw=8
((ROUNDS == 1)) || rw=14
fmt="%-7s %-21s %5s %8s %7s %7s %${rw}s %6s %10s %6s  %s\n"
# shellcheck disable=SC2059
printf "$fmt" target url conns 'req/s' 'p50 ms' 'p99 ms' 'vs nginx' errors 'req/cpu-s' 'other' goal
printf '%*s\n' $((93 + rw)) '' | tr ' ' -
all_met=1
worst=0
for p in "${PATHS[@]}"; do
    for c in $CONNS; do
        for name in herald nginx; do
            k=$name,$p,$c
            # shellcheck disable=SC2086
            {
                rps=$(med ${RPS[$k]})
                p50=$(med ${P50[$k]})
                p99=$(med ${P99[$k]})
                eff=$(med ${EFF[$k]})
                read -r _ _ oth _ <<<"$(stats ${OTHER[$k]})"
                read -r _ _ _ errs <<<"$(stats ${ERR[$k]})"
            }
            worst=$(awk -v a="$worst" -v b="$oth" 'BEGIN { print (b > a ? b : a) }')
            ratio="" goal=""
            if [[ $name == herald ]]; then
                # herald/nginx per round (each pair ran back to back), then the median
                read -ra hr <<<"${RPS[herald,$p,$c]}"
                read -ra nr <<<"${RPS[nginx,$p,$c]}"
                ratios=()
                for ((j = 0; j < ${#hr[@]}; j++)); do
                    ratios+=("$(awk -v h="${hr[j]}" -v n="${nr[j]}" 'BEGIN { printf "%.4f", (n > 0 ? h / n : 0) }')")
                done
                read -r rm rlo rhi _ <<<"$(stats "${ratios[@]}")"
                ratio=$(printf '%.2f' "$rm")
                if ((ROUNDS > 1)); then ratio+=$(printf ' %.2f-%.2f' "$rlo" "$rhi"); fi
                if [[ $c == "$GOAL_CONNS" ]]; then
                    if awk -v r="$rm" -v l="$p99" -v e="$errs" -v gr="$GOAL_RATIO" -v gl="$GOAL_P99_MS" \
                        'BEGIN { exit !(r >= gr && l < gl && e == 0) }'; then
                        goal="met"
                    else
                        goal="NOT met"
                        all_met=0
                    fi
                fi
            fi
            # shellcheck disable=SC2059
            printf "$fmt" "$name" "$p" "$c" "$(printf '%.0f' "$rps")" "$(printf '%.2f' "$p50")" \
                "$(printf '%.2f' "$p99")" "$ratio" "$errs" "$(printf '%.0f' "$eff")" "$oth%" "$goal"
        done
    done
done
echo
if ((ROUNDS > 1)); then
    echo "figures are medians of $ROUNDS rounds; vs nginx: median of the per-round ratios, then min-max;"
    echo "errors: total; other: the worst round."
fi
echo "goal: herald >= $GOAL_RATIO x nginx req/s and p99 < $GOAL_P99_MS ms at $GOAL_CONNS connections, no errors"
if ((all_met)); then echo "goal: MET for every URL"; else echo "goal: NOT MET (see rows above)"; fi
echo "req/cpu-s: requests per CPU-second the server itself used (less sensitive to"
echo "           contention than req/s). other: share of the machine's CPU used by neither"
echo "           the server nor wrk during the case; above ~5% the figures are disturbed."
if awk -v w="$worst" 'BEGIN { exit !(w > 5) }'; then
    echo "WARNING: other programs used up to $worst% of the CPU during a case; re-run on a quiet machine."
fi
if [[ -n $drift ]]; then
    echo "note: herald's body changed size during the run (snapshot rebuilt):$drift"
fi
echo "load average before/after: $LOAD_BEFORE / $(cut -d' ' -f1-3 /proc/loadavg)"
echo "herald RSS after the run: $rss (peak $hwm); lines herald logged while measured: $loglines"
