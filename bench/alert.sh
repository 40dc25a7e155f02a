#!/usr/bin/env bash
# What alerts and the metrics textfile add to a fire, side by side in one run (release build):
#   1. a failing fire (one attempt, HTTP 500) without alerts, with a webhook alert configured whose
#      streak is already past after_failures (no alert sent: the common case), and with the alert
#      raised and POSTed (the streak file is removed before each run, so every run alerts);
#   2. a successful fire with `metrics: {textfile}` off and on, among 50 jobs with tallies, the fired
#      job holding 1000 history lines; and `cronix metrics`, the full scan of every history, for scale.
#
# Needs: python3 (the server) and hyperfine.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-100}
cargo build --release --quiet
BIN=$PWD/target/release/cronix
WORK=$(mktemp -d)
trap 'kill "$SERVER_PID" 2>/dev/null || true; rm -rf "$WORK"' EXIT

source bench/lib/common.sh
start_server "$WORK"
export BENCH_SECRET=bench-secret-value

spec() { # dir app job path
  mkdir -p "$1/jobs" "$1/locks" "$1/state"
  cat > "$1/jobs/$2.$3.json" <<JSON
{"format":1,"app":"$2","job":{"name":"$3","schedules":["* * * * *"],"timezone":"UTC",
 "request":{"method":"POST","url":"http://127.0.0.1:$PORT$4","headers":{},"body":"{}"},
 "policy":{"concurrency":"Forbid","concurrency_scope":"host","timeout_seconds":10,"retries":{"max_attempts":1,"min_seconds":0,"max_seconds":1}},
 "auth":{"secret_refs":["env:BENCH_SECRET"]}},
 "secret_refs":["env:BENCH_SECRET"],"lock_dir":"$1/locks","state_dir":"$1/state"}
JSON
}

# 1. Alerts.
A=$WORK/alerts
spec "$A" billing settle /fail
echo "version: 1" > "$A/plain.yaml"
cat > "$A/alert.yaml" <<YAML
version: 1
alerts:
  - webhook: http://127.0.0.1:$PORT/alert
    secret_ref: env:BENCH_SECRET
    after_failures: 1
YAML
fire() { echo "$BIN --config $A/$1.yaml trigger --spec-dir $A/jobs billing.settle"; }
$(fire plain) || true
$(fire alert) || true   # streak now past after_failures: later fires send nothing
STREAK=$A/state/alerts/billing.settle.json
hyperfine -N -i --warmup 10 --runs "$RUNS" --export-json "$WORK/alerts.json" \
  -n "failing fire, no alerts" "$(fire plain)" \
  -n "failing fire, alert configured, not raised" "$(fire alert)" >/dev/null
hyperfine -i --warmup 10 --runs "$RUNS" --export-json "$WORK/raised.json" --shell=none \
  --prepare "rm -f $STREAK" -n "failing fire, no alerts (same prepare)" "$(fire plain)" \
  --prepare "rm -f $STREAK" -n "failing fire, webhook alert raised" "$(fire alert)" >/dev/null

# 2. Metrics textfile.
M=$WORK/metrics
for n in $(seq -w 1 50); do spec "$M" "app$n" settle /ok; done
echo "version: 1" > "$M/off.yaml"
printf 'version: 1\nmetrics:\n  textfile: %s/prom/cronix.prom\n' "$M" > "$M/on.yaml"
mkdir -p "$M/prom"
for n in $(seq -w 1 50); do "$BIN" --config "$M/on.yaml" trigger --spec-dir "$M/jobs" "app$n.settle"; done
python3 - "$M/state/history/app01.settle.jsonl" <<'PY'
import json, sys, time
# Recent start times: records older than history.max_age_days would be compacted away at once.
now = int(time.time())
with open(sys.argv[1], "a") as f:
    for n in range(999):
        t = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now - 60 * (999 - n)))
        f.write(json.dumps({"run_id": f"r{n}", "app": "app01", "job": "settle",
            "fire_time": t + "Z", "started_at": t + ".000Z",
            "duration_ms": 3, "attempts": 1, "status": "ok", "http_status": 204,
            "exit_code": 0, "error": None}) + "\n")
PY
mfire() { echo "$BIN --config $M/$1.yaml trigger --spec-dir $M/jobs app01.settle"; }
$(mfire on)
hyperfine -N --warmup 10 --runs "$RUNS" --export-json "$WORK/metrics.json" \
  -n "ok fire, textfile off" "$(mfire off)" \
  -n "ok fire, textfile on (50 jobs)" "$(mfire on)" \
  -n "cronix metrics (full scan, 50 jobs)" "$BIN --config $M/off.yaml metrics --spec-dir $M/jobs" >/dev/null

python3 - "$WORK/alerts.json" "$WORK/raised.json" "$WORK/metrics.json" <<'PY'
import json, sys
for path in sys.argv[1:]:
    results = json.load(open(path))["results"]
    base = results[0]["median"]
    print(f"{'':<44} {'median ms':>10} {'mean ms':>9} {'added ms':>9}")
    for r in results:
        print(f"{r['command']:<44} {r['median']*1e3:>10.2f} {r['mean']*1e3:>9.2f} {(r['median']-base)*1e3:>9.2f}")
    print()
PY
echo "history lines of the fired job: $(wc -l < "$M/state/history/app01.settle.jsonl"); tallies: $(ls "$M/state/metrics" | grep -c json)"
