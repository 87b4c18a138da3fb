#!/usr/bin/env bash
# The benchmark suite: our server (examples/bench_server.rs, "gateway") side by side with
# socketioxide and socket.io, on one core each. See bench/README.md.
#
#   bench/run.sh                      # everything: build, 3 runs of each server × scenario
#   bench/run.sh --quick              # 1 run, 3 s measurements (a smoke test)
#   bench/run.sh --servers gateway --scenarios "echo100 broadcast"
#
# Prints the machine, then ONE Markdown table of medians with the ratios to the peers.
# Raw output (every loadgen and server log, the RESULT lines) goes to bench/results/<date>/.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

# ---- settings (environment variables, or the flags below) -------------------------------
RUNS=${RUNS:-3}
DURATION=${DURATION:-10}          # measured seconds of connects/echo
WARMUP=${WARMUP:-2}               # unmeasured seconds before
IDLE_CLIENTS=${IDLE_CLIENTS:-10000}
IDLE_HOLD=${IDLE_HOLD:-5}         # seconds the idle clients stay before the RSS is read
CONNECT_INFLIGHT=${CONNECT_INFLIGHT:-100}
BROADCAST_CLIENTS=${BROADCAST_CLIENTS:-1000}
BROADCAST_MESSAGES=${BROADCAST_MESSAGES:-200}
BROADCAST_WINDOW=${BROADCAST_WINDOW:-32}
BROADCAST_RUNS=${BROADCAST_RUNS:-5}  # a broadcast run lasts well under a second: more of them
SERVERS=${SERVERS:-"gateway socketioxide socket.io"}
SCENARIOS=${SCENARIOS:-"connects idle echo100 echo1000 broadcast overhead"}
PORT=${PORT:-3300}
SERVER_CPU=${SERVER_CPU:-0}       # core of the server
CLIENT_CPU=${CLIENT_CPU:-1}       # core of the load generator
BENCH_NICE=${BENCH_NICE:-}        # e.g. -10 to win the cores back from other work (root)
SKIP_BUILD=${SKIP_BUILD:-0}
RETRIES=${RETRIES:-3}             # runs disturbed by other work are done again, this many times
OUT=${OUT:-"$ROOT/bench/results/$(date +%Y%m%d-%H%M%S)"}

usage() {
    sed -n '2,10p' "$0"
    cat <<EOF

Flags (or the environment variable in capitals):
  --runs N             runs per server × scenario, the median is shown [$RUNS]
                       (broadcast: BROADCAST_RUNS, [$BROADCAST_RUNS])
  --duration S         measured seconds of connects and echo [$DURATION]
  --warmup S           unmeasured seconds before [$WARMUP]
  --idle-clients N     idle connections (10k by default; 100000 needs ulimit -n above it) [$IDLE_CLIENTS]
  --servers LIST       among: gateway socketioxide socket.io [$SERVERS]
  --scenarios LIST     among: connects idle echo100 echo1000 broadcast overhead, and
                       upgrades (connects over polling, then WebSocket) [$SCENARIOS]
  --port P             first port to try [$PORT]
  --nice N             run servers and load generator with nice -n N (negative needs root)
  --out DIR            where raw results go [bench/results/<date>]
  --skip-build         use the binaries already built
  --retries N          redo a run in which other processes took more than 10% of a pinned
                       core, at most N times (the last attempt is kept) [$RETRIES]
  --quick              1 run, 3 s measured, 1 s warm-up, 2000 idle clients
EOF
}

while [ $# -gt 0 ]; do
    case "$1" in
        --runs) RUNS=$2; shift 2 ;;
        --duration) DURATION=$2; shift 2 ;;
        --warmup) WARMUP=$2; shift 2 ;;
        --idle-clients) IDLE_CLIENTS=$2; shift 2 ;;
        --servers) SERVERS=$2; shift 2 ;;
        --scenarios) SCENARIOS=$2; shift 2 ;;
        --port) PORT=$2; shift 2 ;;
        --nice) BENCH_NICE=$2; shift 2 ;;
        --out) OUT=$2; shift 2 ;;
        --skip-build) SKIP_BUILD=1; shift ;;
        --retries) RETRIES=$2; shift 2 ;;
        --quick) RUNS=1; BROADCAST_RUNS=1; DURATION=3; WARMUP=1; IDLE_CLIENTS=2000; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "run.sh: unknown argument $1" >&2; usage >&2; exit 64 ;;
    esac
done

mkdir -p "$OUT"
RESULTS="$OUT/results.txt"
: > "$RESULTS"
LOADGEN="$ROOT/target/release/examples/loadgen"
GATEWAY="$ROOT/target/release/examples/bench_server"
SIOXIDE="$ROOT/bench/peers/socketioxide/target/release/bench-peer-socketioxide"
NODE_DIR="$ROOT/bench/peers/node"

log() { echo "[run.sh $(date +%H:%M:%S)] $*" >&2; }

# ---- build --------------------------------------------------------------------------------
if [ "$SKIP_BUILD" != 1 ]; then
    log "building bench_server and loadgen (release)"
    nice -n 19 cargo build --release --quiet --example bench_server --example loadgen
    if [[ " $SERVERS " == *" socketioxide "* ]]; then
        log "building the socketioxide peer (release)"
        nice -n 19 cargo build --release --quiet --manifest-path bench/peers/socketioxide/Cargo.toml
    fi
    if [[ " $SERVERS " == *" socket.io "* ]]; then
        if command -v npm >/dev/null; then
            log "installing the socket.io peer (npm ci)"
            (cd "$NODE_DIR" && nice -n 19 npm ci --no-audit --no-fund --loglevel=error >/dev/null)
        fi
    fi
fi

# Drop servers that cannot run here.
available=""
for s in $SERVERS; do
    case "$s" in
        gateway) [ -x "$GATEWAY" ] && available+=" $s" || log "no $GATEWAY: skipping gateway" ;;
        socketioxide) [ -x "$SIOXIDE" ] && available+=" $s" || log "no $SIOXIDE: skipping socketioxide" ;;
        socket.io)
            if command -v node >/dev/null && [ -d "$NODE_DIR/node_modules/socket.io" ]; then
                available+=" $s"
            else
                log "node or $NODE_DIR/node_modules missing: skipping socket.io"
            fi ;;
        *) log "unknown server $s: skipping" ;;
    esac
done
SERVERS=$available
[ -x "$LOADGEN" ] || { echo "run.sh: no load generator at $LOADGEN" >&2; exit 1; }

# Run copies: a build in the shared target directory during the runs must not swap the
# binaries under test.
mkdir -p "$OUT/bin"
cp "$LOADGEN" "$OUT/bin/loadgen" && LOADGEN="$OUT/bin/loadgen"
if [ -x "$GATEWAY" ]; then cp "$GATEWAY" "$OUT/bin/bench_server" && GATEWAY="$OUT/bin/bench_server"; fi
if [ -x "$SIOXIDE" ]; then cp "$SIOXIDE" "$OUT/bin/bench-peer-socketioxide" && SIOXIDE="$OUT/bin/bench-peer-socketioxide"; fi

# Enough file descriptors for the idle scenario (both processes hold one per connection).
want_fds=$((IDLE_CLIENTS + BROADCAST_CLIENTS + 1024))
if [ "$(ulimit -n)" -lt "$want_fds" ]; then
    ulimit -n "$want_fds" 2>/dev/null || ulimit -n "$(ulimit -Hn)" || true
    if [ "$(ulimit -n)" -lt "$want_fds" ]; then
        log "warning: ulimit -n is $(ulimit -n), below the $want_fds the idle scenario needs"
    fi
fi

NICE=()
if [ -n "$BENCH_NICE" ]; then NICE=(nice -n "$BENCH_NICE"); fi

# ---- servers ------------------------------------------------------------------------------
SERVER_PID=""

port_busy() { [ -n "$(ss -ltnH "sport = :$1" 2>/dev/null)" ]; }

stop_server() {
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 50); do
            kill -0 "$SERVER_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    SERVER_PID=""
}
trap 'stop_server' EXIT
trap 'stop_server; exit 130' INT TERM

# start_server NAME LOGFILE: starts NAME pinned to SERVER_CPU on a free port (sets PORT and
# SERVER_PID), and waits until it listens.
start_server() {
    local name=$1 logfile=$2
    local tries=0
    while port_busy "$PORT"; do
        PORT=$((PORT + 1))
        tries=$((tries + 1))
        [ $tries -lt 100 ] || { echo "run.sh: no free port" >&2; return 1; }
    done
    case "$name" in
        gateway|gateway-plain)
            PORT=$PORT "${NICE[@]}" taskset -c "$SERVER_CPU" "$GATEWAY" >"$logfile" 2>&1 &
            ;;
        gateway+enhancers)
            BENCH_ENHANCERS=1 PORT=$PORT "${NICE[@]}" taskset -c "$SERVER_CPU" "$GATEWAY" >"$logfile" 2>&1 &
            ;;
        socketioxide)
            PORT=$PORT "${NICE[@]}" taskset -c "$SERVER_CPU" "$SIOXIDE" >"$logfile" 2>&1 &
            ;;
        socket.io)
            (cd "$NODE_DIR" && PORT=$PORT exec "${NICE[@]}" taskset -c "$SERVER_CPU" node server.mjs) >"$logfile" 2>&1 &
            ;;
    esac
    SERVER_PID=$!
    for _ in $(seq 200); do
        if grep -q "listening on" "$logfile" 2>/dev/null && port_busy "$PORT"; then
            return 0
        fi
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then
            echo "run.sh: $name exited at start; its log:" >&2
            cat "$logfile" >&2
            SERVER_PID=""
            return 1
        fi
        sleep 0.05
    done
    echo "run.sh: $name did not listen on port $PORT within 10 s" >&2
    stop_server
    return 1
}

# loadgen_args SCENARIO: the load generator's arguments for a scenario, its time limit, and
# the scenario name its RESULT line gives (NAME).
loadgen_args() {
    NAME=""
    case "$1" in
        connects) ARGS=(connects --clients "$CONNECT_INFLIGHT" --duration "$DURATION" --warmup "$WARMUP")
                  LIMIT=$((DURATION + WARMUP + 60)) ;;
        upgrades) ARGS=(connects --transport upgrade --clients "$CONNECT_INFLIGHT" --duration "$DURATION"
                        --warmup "$WARMUP")
                  LIMIT=$((DURATION + WARMUP + 60)); NAME=upgrades ;;
        idle) ARGS=(idle --clients "$IDLE_CLIENTS" --duration "$IDLE_HOLD")
              LIMIT=$((IDLE_HOLD + 120 + IDLE_CLIENTS / 500)) ;;
        echo100|overhead) ARGS=(echo --clients 100 --duration "$DURATION" --warmup "$WARMUP")
                          LIMIT=$((DURATION + WARMUP + 60)) ;;
        echo1000) ARGS=(echo --clients 1000 --duration "$DURATION" --warmup "$WARMUP")
                  LIMIT=$((DURATION + WARMUP + 60)) ;;
        broadcast) ARGS=(broadcast --clients "$BROADCAST_CLIENTS" --messages "$BROADCAST_MESSAGES"
                         --window "$BROADCAST_WINDOW" --timeout 60)
                   LIMIT=120 ;;
        *) return 1 ;;
    esac
    NAME=${NAME:-${ARGS[0]}}
}

# disturbed RESULT-LINE: whether other processes took more than 10% of a pinned core.
disturbed() {
    echo "$1" | tr ' ' '\n' | awk -F= '
        ($1 == "server_core_other" || $1 == "client_core_other") && $2 != "nan" && $2 + 0 > 0.10 { d = 1 }
        END { exit d ? 0 : 1 }'
}

# run_one SERVER SCENARIO RUN RUNS: one measured run, done again (at most RETRIES times)
# when other work disturbed it; the last attempt's RESULT line is kept.
run_one() {
    local attempt=0
    while :; do
        attempt_one "$@"
        if [ "$attempt" -ge "$RETRIES" ] || ! disturbed "$LAST_RESULT"; then
            break
        fi
        attempt=$((attempt + 1))
        echo "$LAST_RESULT" >>"$OUT/disturbed.txt"
        log "  disturbed by other work: again ($attempt/$RETRIES)"
        sleep 15
    done
    echo "$LAST_RESULT" >>"$RESULTS"
}

# attempt_one SERVER SCENARIO RUN RUNS: a fresh server, one load generator run; sets
# LAST_RESULT to its RESULT line.
attempt_one() {
    local server=$1 scenario=$2 run=$3 runs=$4
    local tag="${server}_${scenario}_${run}"
    loadgen_args "$scenario" || { log "unknown scenario $scenario"; return 0; }
    if ! start_server "$server" "$OUT/$tag.server.log"; then
        LAST_RESULT="RESULT scenario=$NAME label=$server error=1 run=$run"
        return 0
    fi
    sleep 0.3
    log "$server $scenario run $run/$runs (port $PORT, pid $SERVER_PID, load $(cut -d' ' -f1 /proc/loadavg))"
    local status=0
    timeout --kill-after=5 "$LIMIT" "${NICE[@]}" taskset -c "$CLIENT_CPU" "$LOADGEN" "${ARGS[@]}" \
        --url "ws://127.0.0.1:$PORT/socket.io/" --server-pid "$SERVER_PID" --label "$server" \
        >"$OUT/$tag.loadgen.log" 2>&1 || status=$?
    stop_server
    local result
    result=$(grep '^RESULT ' "$OUT/$tag.loadgen.log" | tail -n 1 || true)
    if [ -z "$result" ]; then
        result="RESULT scenario=$NAME label=$server error=1"
        log "  no result (exit status $status); see $OUT/$tag.loadgen.log"
    else
        log "  ${result#RESULT }"
    fi
    # Let the closed connections of this run leave the kernel before the next.
    sleep 1
    LAST_RESULT="$result run=$run"
}

# ---- machine -------------------------------------------------------------------------------
machine() {
    echo "- nproc: $(nproc); CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
    echo "- kernel: $(uname -sr); memory: $(free -g | awk '/^Mem:/ {print $2}') GiB"
    echo "- rustc: $(rustc --version 2>/dev/null || echo '?'); node: $(node --version 2>/dev/null || echo '-')"
    echo "- socketioxide: $(grep -A1 '^name = "socketioxide"$' bench/peers/socketioxide/Cargo.lock 2>/dev/null | sed -n 's/version = "\(.*\)"/\1/p')" \
         "; socket.io: $(sed -n 's/.*"version": "\(.*\)".*/\1/p' "$NODE_DIR/node_modules/socket.io/package.json" 2>/dev/null | head -n1)"
    echo "- pinning: servers on core $SERVER_CPU, load generator on core $CLIENT_CPU (taskset);" \
         "nice ${BENCH_NICE:-0}; load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "- project commit: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$ROOT" diff --quiet HEAD -- gateway-core/src gateway-runtime/src gateway-macros/src examples/bench_server.rs 2>/dev/null || echo ' (with uncommitted changes to the server code)')"
    echo "- settings: $RUNS runs ($BROADCAST_RUNS for broadcast), ${DURATION} s measured after ${WARMUP} s warm-up;" \
         "$CONNECT_INFLIGHT handshakes in flight; $IDLE_CLIENTS idle clients;" \
         "broadcast $BROADCAST_CLIENTS clients × $BROADCAST_MESSAGES, window $BROADCAST_WINDOW"
}
machine >"$OUT/machine.md"

# ---- runs ----------------------------------------------------------------------------------
log "servers:$SERVERS; scenarios: $SCENARIOS; $RUNS runs; raw results in $OUT"
started=$(date +%s)
# Servers take turns within each scenario (run 1 of each, then run 2 of each, ...), so that a
# slow drift of the machine spreads over all of them instead of favouring one.
for scenario in $SCENARIOS; do
    targets=""
    for server in $SERVERS; do
        if [ "$scenario" = overhead ]; then
            # Framework overhead: echo with 100 clients against bench_server with the
            # enhancers (compared with gateway's echo100), alternating with plain runs.
            [ "$server" = gateway ] && targets="gateway+enhancers gateway-plain"
        else
            targets+=" $server"
        fi
    done
    runs=$RUNS
    if [ "$scenario" = broadcast ]; then runs=$BROADCAST_RUNS; fi
    for run in $(seq "$runs"); do
        order=$targets
        if [ "$scenario" = overhead ] && [ $((run % 2)) -eq 0 ]; then
            # Every other pair in the other order, so neither side is always first.
            order=$(echo $targets | tr ' ' '\n' | tac | tr '\n' ' ')
        fi
        for target in $order; do
            run_one "$target" "$scenario" "$run" "$runs"
        done
    done
done
log "done in $(( $(date +%s) - started )) s"

# ---- the table -----------------------------------------------------------------------------
{
    echo "## Machine"
    echo
    cat "$OUT/machine.md"
    echo
    echo "## Results"
    echo
    "$LOADGEN" report "$RESULTS"
} | tee "$OUT/table.md"
