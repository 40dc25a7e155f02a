#!/usr/bin/env bash
# The cost of traces (issue 20), in one run: median wall time (hyperfine) of an Allow fire against a
# local HTTP server with
#   - a baseline build (default: where this branch left `main`) — the shim before `--otel` existed,
#   - this tree without `--otel` (the budget: ≤ 1.03× the baseline),
#   - this tree with `--otel` and no endpoint (a no-op),
#   - this tree with `--otel` exporting to a local Jaeger (the budget: ≤ 2 ms added median),
# and the size of both release binaries.
#
# Both binaries are built in the one target dir ($CARGO_TARGET_DIR, else ./target): the baseline from
# `git archive $BASE_REV` into $BASE_SRC (default /tmp/cronix-otel-base), copied out, then this tree.
# Set BASE_BIN to a built baseline binary to skip its build.
#
# Needs: python3 (the server), hyperfine, the Jaeger binary of .ci/jaeger (JAEGER_BIN, default
# /var/cache/cronix-jaeger/jaeger). RUNS (default 500) sets the number of timed runs of each command,
# ROUNDS (default 5) the rounds they are split into.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-500}
BASE_REV=${BASE_REV:-$(git merge-base HEAD main)}
BASE_SRC=${BASE_SRC:-/tmp/cronix-otel-base}
JAEGER_BIN=${JAEGER_BIN:-/var/cache/cronix-jaeger/jaeger}
TARGET=${CARGO_TARGET_DIR:-$PWD/target}

WORK=$(mktemp -d)
JAEGER_PID=
trap 'kill "$SERVER_PID" 2>/dev/null || true; [ -n "$JAEGER_PID" ] && kill "$JAEGER_PID" 2>/dev/null; rm -rf "$WORK"' EXIT

if [ -z "${BASE_BIN:-}" ]; then
  # Kept as $BASE_SRC/cronix-base, rebuilt only when $BASE_REV names another commit.
  rev=$(git rev-parse "$BASE_REV")
  if [ "$(cat "$BASE_SRC/.rev" 2>/dev/null)" != "$rev" ] || [ ! -x "$BASE_SRC/cronix-base" ]; then
    rm -rf "$BASE_SRC"
    mkdir -p "$BASE_SRC/src"
    git archive "$rev" | tar -x -C "$BASE_SRC/src"
    (cd "$BASE_SRC/src" && CARGO_TARGET_DIR=$TARGET cargo build --release --quiet)
    cp "$TARGET/release/cronix" "$BASE_SRC/cronix-base"
    echo "$rev" > "$BASE_SRC/.rev"
  fi
  BASE_BIN=$BASE_SRC/cronix-base
fi
cargo build --release --quiet
cp "$TARGET/release/cronix" "$WORK/cronix-new"
NEW=$WORK/cronix-new

# The machine may be shared with builds: as root (unless BENCH_RT=0) the server, Jaeger and the timed
# fires run under SCHED_FIFO (chrt -f 20), so a compile on the other core does not time-slice them.
RT=()
if [ "$(id -u)" = 0 ] && [ "${BENCH_RT:-1}" = 1 ] && command -v chrt >/dev/null; then
  RT=(chrt -f 20)
fi
source bench/lib/common.sh
start_server "$WORK"
[ ${#RT[@]} -eq 0 ] || chrt -f -p 20 "$SERVER_PID" >/dev/null
export BENCH_SECRET=bench-secret-value

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
OTLP=$(free_port); QUERY=$(free_port); GRPC=$(free_port)
cat > "$WORK/jaeger.yaml" <<YAML
service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    logs:
      level: error
extensions:
  jaeger_query:
    storage:
      traces: mem
    http:
      endpoint: 127.0.0.1:$QUERY
    grpc:
      endpoint: 127.0.0.1:$GRPC
  jaeger_storage:
    backends:
      mem:
        memory:
          max_traces: 100000
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:$OTLP
exporters:
  jaeger_storage_exporter:
    trace_storage: mem
YAML
"${RT[@]}" "$JAEGER_BIN" --config "file:$WORK/jaeger.yaml" >/dev/null 2>&1 &
JAEGER_PID=$!
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$QUERY/api/services" >/dev/null 2>&1 && break
  sleep 0.1
done

history='history:\n  max_runs: 100000000\n  max_age_days: 36500\n'
printf "version: 1\n$history" > "$WORK/plain.yaml"
printf "version: 1\n${history}otel:\n  endpoint: http://127.0.0.1:$OTLP\n  service_name: cronix-bench\n" > "$WORK/otel.yaml"
chmod 600 "$WORK"/*.yaml

spec() { # which
  mkdir -p "$WORK/$1/jobs" "$WORK/$1/locks" "$WORK/$1/state"
  cat > "$WORK/$1/jobs/bench.settle.json" <<JSON
{"format":1,"app":"bench","job":{"name":"settle","schedules":["* * * * *"],"timezone":"UTC",
 "request":{"method":"POST","url":"http://127.0.0.1:$PORT/api/v1/scheduled/settle","headers":{"Accept":"application/json"},"body":"{\"invoice\":42}"},
 "policy":{"concurrency":"Allow","concurrency_scope":"host","timeout_seconds":10,"retries":{"max_attempts":3,"min_seconds":1,"max_seconds":10}},
 "auth":{"secret_refs":["env:BENCH_SECRET"]}},
 "secret_refs":["env:BENCH_SECRET"],"lock_dir":"$WORK/$1/locks","state_dir":"$WORK/$1/state"}
JSON
}
for which in base off noop on; do spec "$which"; done

cmd() { # bin which config [--otel]
  echo "$1 --config $WORK/$3.yaml trigger --spec-dir $WORK/$2/jobs ${4:-} bench.settle"
}
BASE_CMD=$(cmd "$BASE_BIN" base plain)
OFF_CMD=$(cmd "$NEW" off plain)
NOOP_CMD=$(cmd "$NEW" noop plain --otel)
ON_CMD=$(cmd "$NEW" on otel --otel)
# Each command must succeed (and export without a warning) before it is timed.
for c in "$BASE_CMD" "$OFF_CMD" "$NOOP_CMD" "$ON_CMD"; do
  out=$($c 2>&1)
  [ -z "$out" ] || { echo "bench: $c printed: $out" >&2; exit 1; }
done

# The machine may be shared: the commands are timed in ROUNDS rounds of RUNS/ROUNDS runs each, their
# order rotating from round to round, and the medians are taken over every round's samples, so a
# change of load during the run weighs on every command alike.
ROUNDS=${ROUNDS:-5}
names=("main" "otel off" "otel, no endpoint" "otel to jaeger")
cmds=("$BASE_CMD" "$OFF_CMD" "$NOOP_CMD" "$ON_CMD")
for round in $(seq "$ROUNDS"); do
  args=()
  for k in 0 1 2 3; do
    i=$(( (k + round) % 4 ))
    args+=(-n "${names[$i]}" "${cmds[$i]}")
  done
  "${RT[@]}" hyperfine -N --warmup 10 --runs $(( RUNS / ROUNDS )) --export-json "$WORK/fire-$round.json" \
    "${args[@]}" >/dev/null 2>&1
done

traces=$(curl -sf "http://127.0.0.1:$QUERY/api/traces?service=cronix-bench&limit=100000" |
  python3 -c 'import json,sys; print(len(json.load(sys.stdin)["data"]))')
sched="SCHED_OTHER"; [ ${#RT[@]} -eq 0 ] || sched="SCHED_FIFO 20"
python3 - "$WORK" "$BASE_REV" "$BASE_BIN" "$NEW" "$traces" "$sched" <<'PY'
import glob, json, os, statistics, sys
samples = {}
for path in sorted(glob.glob(f"{sys.argv[1]}/fire-*.json")):
    for r in json.load(open(path))["results"]:
        samples.setdefault(r["command"], []).extend(r["times"])
load = open("/proc/loadavg").read().split()[:3]
runs = len(next(iter(samples.values())))
print(f"baseline: {sys.argv[2]}; Allow fire, {runs} runs each in interleaved rounds; ms; load average {' '.join(load)}; {sys.argv[6]}")
print(f"{'fire':<20} {'median':>8} {'mean':>8} {'stddev':>8} {'vs main':>8}")
base = statistics.median(samples["main"])
for name in ["main", "otel off", "otel, no endpoint", "otel to jaeger"]:
    t = samples[name]
    m = statistics.median(t)
    print(f"{name:<20} {m*1e3:>8.2f} {statistics.mean(t)*1e3:>8.2f} {statistics.stdev(t)*1e3:>8.2f} {m/base:>8.3f}")
added = (statistics.median(samples["otel to jaeger"]) - statistics.median(samples["otel off"])) * 1e3
print(f"--otel export added median: {added:.2f} ms (traces stored in Jaeger: {sys.argv[5]})")
for label, path in (("main", sys.argv[3]), ("this tree", sys.argv[4])):
    print(f"release binary {label}: {os.path.getsize(path)} bytes ({os.path.getsize(path)/2**20:.2f} MiB)")
PY
