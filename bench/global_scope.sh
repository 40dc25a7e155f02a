#!/usr/bin/env bash
# concurrency_scope global vs host: one Forbid fire of `cronix trigger` against a local HTTP server
# and a local redis-server, side by side in one run — median and p99 wall time, and the
# Redis commands per fire (deltas of `INFO commandstats`). Then the load run: 300 jobs x 3 hosts due
# in the same minute against one Redis (the ignored test `load_300_jobs_on_3_hosts_in_one_minute`,
# driving this release binary): every instant delivered once, and the time to the last delivery.
#
# Needs: a release build (built here), python3, redis-server and redis-cli
# (`apt-get install -y redis-server`).
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-300}
cargo build --release --quiet
BIN=$PWD/target/release/cronix
WORK=$(mktemp -d)
trap 'kill "$SERVER_PID" "$REDIS_PID" 2>/dev/null || true; rm -rf "$WORK"' EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
RPORT=$(free_port)
redis-server --port "$RPORT" --bind 127.0.0.1 --save "" --appendonly no >/dev/null &
REDIS_PID=$!
RCLI=(redis-cli -p "$RPORT")
for _ in $(seq 50); do [ "$("${RCLI[@]}" PING 2>/dev/null)" = PONG ] && break; sleep 0.1; done

source bench/lib/common.sh
start_server "$WORK"
export BENCH_SECRET=bench-secret-value

mkdir -p "$WORK/jobs" "$WORK/locks" "$WORK/state"
cat > "$WORK/cronix.yaml" <<YAML
version: 1
host_id: bench-1
locks:
  redis:
    addr: 127.0.0.1:$RPORT
    on_unavailable: fail
YAML
spec() { # app scope
  cat > "$WORK/jobs/$1.settle.json" <<JSON
{"format":1,"app":"$1","job":{"name":"settle","schedules":["* * * * *"],"timezone":"UTC",
 "request":{"method":"POST","url":"http://127.0.0.1:$PORT/api/v1/scheduled/settle","headers":{"Accept":"application/json"},"body":"{\"invoice\":42}"},
 "policy":{"concurrency":"Forbid","concurrency_scope":"$2","timeout_seconds":10,"retries":{"max_attempts":3,"min_seconds":1,"max_seconds":10}},
 "auth":{"secret_refs":["env:BENCH_SECRET"]}},
 "secret_refs":["env:BENCH_SECRET"],"lock_dir":"$WORK/locks","state_dir":"$WORK/state"}
JSON
}
spec host host
spec global global
TRIGGER="$BIN --config $WORK/cronix.yaml trigger --spec-dir $WORK/jobs"

# Each must succeed before it is timed.
$TRIGGER host.settle; "${RCLI[@]}" FLUSHDB >/dev/null; $TRIGGER global.settle

# Wall time, interleaved round by round so that load on the machine hits every variant alike: a
# host-scope fire, a global-scope fire that delivers (the claims are flushed before it, untimed),
# and a global-scope duplicate (the same instant again: another host already claimed it).
python3 - "$RUNS" "$WORK/times.json" "$RPORT" $TRIGGER <<'PY'
import json, subprocess, sys, time
runs, out, rport, trigger = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4:]
flush = ["redis-cli", "-p", rport, "FLUSHDB"]
def timed(args):
    t = time.perf_counter()
    code = subprocess.run(args).returncode
    assert code == 0, (args, code)
    return time.perf_counter() - t
times = {"host scope": [], "global scope": [], "global duplicate": []}
for n in range(runs + 10):
    h = timed(trigger + ["host.settle"])
    subprocess.run(flush, stdout=subprocess.DEVNULL)
    g = timed(trigger + ["global.settle"])
    d = timed(trigger + ["global.settle"])
    if n >= 10:  # warm-up rounds are not counted
        times["host scope"].append(h); times["global scope"].append(g); times["global duplicate"].append(d)
json.dump(times, open(out, "w"))
PY

# Redis commands per fire: INFO commandstats deltas over N fires (commands run inside the Lua
# scripts included), and the commands the shim itself sends (MONITOR lines not marked "lua").
N=50
stats() { "${RCLI[@]}" INFO commandstats | tr -d '\r' | sed -n 's/^cmdstat_\([a-z|]*\):calls=\([0-9]*\).*/\1 \2/p'; }
"${RCLI[@]}" FLUSHDB >/dev/null
"${RCLI[@]}" MONITOR > "$WORK/monitor" & MONITOR_PID=$!
sleep 0.3
stats > "$WORK/before"
for _ in $(seq $N); do "${RCLI[@]}" FLUSHDB >/dev/null; $TRIGGER global.settle; done
stats > "$WORK/after"
sleep 0.3; grep -v -i -e lua -e flushdb -e '"info"' -e '^OK' "$WORK/monitor" | wc -l > "$WORK/sent"
for _ in $(seq $N); do $TRIGGER global.settle; done
stats > "$WORK/after_dup"
sleep 0.3; kill "$MONITOR_PID" 2>/dev/null || true
grep -v -i -e lua -e flushdb -e '"info"' -e '^OK' "$WORK/monitor" | wc -l > "$WORK/sent_all"

python3 - "$WORK" "$N" <<'PY'
import json, sys
work, n = sys.argv[1], int(sys.argv[2])
def pct(times, p):
    t = sorted(times); return t[min(len(t) - 1, int(round(p / 100 * (len(t) - 1))))]
times = json.load(open(f"{work}/times.json"))
host = pct(times["host scope"], 50)
print(f"{'Forbid fire':<18} {'median ms':>10} {'p99 ms':>8} {'median vs host':>15}  ({len(times['host scope'])} interleaved rounds)")
for name, t in times.items():
    print(f"{name:<18} {pct(t, 50)*1e3:>10.2f} {pct(t, 99)*1e3:>8.2f} {(pct(t, 50)-host)*1e3:>+12.2f} ms")
def load(name):
    return dict(line.split() for line in open(f"{work}/{name}"))
before, after, dup = load("before"), load("after"), load("after_dup")
def delta(a, b, skip):
    return {k: int(b[k]) - int(a.get(k, 0)) for k in b if k not in skip and int(b[k]) != int(a.get(k, 0))}
skip = {"flushdb", "info"}
d = delta(before, after, skip); dd = delta(after, dup, skip)
sent = int(open(f"{work}/sent").read()); sent_all = int(open(f"{work}/sent_all").read())
def show(label, d, sent):
    calls = ", ".join(f"{k} {v / n:g}" for k, v in sorted(d.items()))
    print(f"{label}: {sent / n:g} sent by the shim; {sum(d.values()) / n:g} in commandstats ({calls})")
show("redis per delivering Forbid fire", d, sent)
show("redis per duplicate fire", dd, sent_all - sent)
PY

echo
echo "load: 300 jobs x 3 hosts in one minute against one Redis (release binary)"
CRONIX_BIN=$BIN cargo test --quiet --test it -- --ignored --nocapture global_scope::load_300_jobs 2>&1 | grep -E '^load:|test result'
