#!/usr/bin/env bash
# The shim's fire against a local HTTP server, this tree side by side with a baseline commit (default
# 2b50e01, the main before the trust model), in one run: median wall time (hyperfine) of an Allow and
# a Forbid fire, and of a Forbid fire whose history holds 10 vs 1,000,000 lines.
#
# The baseline is built from a separate worktree with its own target dir (BASE_DIR, default
# /tmp/cronix-base; created with `git worktree add` when missing). Both binaries fire the same spec
# files against the same server; each has its own lock and state dirs, except the two history jobs,
# whose (shared) history files are made once up front and kept below the compaction limit.
#
# Needs: python3 (the server), hyperfine (`apt-get install -y hyperfine`); RUNS (default 200) and
# HISTORY_RUNS (default 20, for the 1,000,000-line history) set the number of timed runs.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-200}
HISTORY_RUNS=${HISTORY_RUNS:-20}
BASE_REV=${BASE_REV:-2b50e01}
BASE_DIR=${BASE_DIR:-/tmp/cronix-base}

cargo build --release --quiet
NEW=${CARGO_TARGET_DIR:-$PWD/target}/release/cronix
if [ ! -d "$BASE_DIR" ]; then
  git worktree add --detach "$BASE_DIR" "$BASE_REV" >/dev/null
fi
(cd "$BASE_DIR" && cargo build --release --quiet --target-dir "$BASE_DIR/target")
BASE=$BASE_DIR/target/release/cronix

WORK=$(mktemp -d)
trap 'kill "$SERVER_PID" 2>/dev/null || true; rm -rf "$WORK"' EXIT

source bench/lib/common.sh
start_server "$WORK"
export BENCH_SECRET=bench-secret-value

# No compaction during the run: the history jobs keep their 1,000,000 lines.
printf 'version: 1\nhistory:\n  max_runs: 100000000\n  max_age_days: 36500\n' > "$WORK/cronix.yaml"
spec() { # which app concurrency state_dir
  mkdir -p "$WORK/$1/jobs" "$WORK/$1/locks" "$4"
  cat > "$WORK/$1/jobs/$2.settle.json" <<JSON
{"format":1,"app":"$2","job":{"name":"settle","schedules":["* * * * *"],"timezone":"UTC",
 "request":{"method":"POST","url":"http://127.0.0.1:$PORT/api/v1/scheduled/settle","headers":{"Accept":"application/json"},"body":"{\"invoice\":42}"},
 "policy":{"concurrency":"$3","concurrency_scope":"host","timeout_seconds":10,"retries":{"max_attempts":3,"min_seconds":1,"max_seconds":10}},
 "auth":{"secret_refs":["env:BENCH_SECRET"]}},
 "secret_refs":["env:BENCH_SECRET"],"lock_dir":"$WORK/$1/locks","state_dir":"$4"}
JSON
}
for which in base new; do
  spec "$which" allow Allow "$WORK/$which/state"
  spec "$which" forbid Forbid "$WORK/$which/state"
  spec "$which" small Forbid "$WORK/history"
  spec "$which" big Forbid "$WORK/history"
done
mkdir -p "$WORK/history/history"
python3 - "$WORK/history/history" <<'PY'
import sys
line = ('{"run_id":"0190a0a0-0000-7000-8000-%012d","app":"%s","job":"settle",'
        '"fire_time":"2026-11-30T00:00:00Z","started_at":"2026-11-30T00:00:00.000Z","duration_ms":4,'
        '"attempts":1,"status":"ok","http_status":204,"exit_code":0}\n')
for app, n in (("small", 10), ("big", 1_000_000)):
    with open(f"{sys.argv[1]}/{app}.settle.jsonl", "w") as f:
        f.writelines(line % (i, app) for i in range(n))
PY

fire() { # which job
  local bin=$BASE; [ "$1" = new ] && bin=$NEW
  echo "$bin --config $WORK/cronix.yaml trigger --spec-dir $WORK/$1/jobs $2.settle"
}
# Each command must succeed before it is timed.
for which in base new; do for job in allow forbid small big; do $(fire $which $job); done; done

hyperfine -N --warmup 20 --runs "$RUNS" --export-json "$WORK/fire.json" \
  -n "base Allow" "$(fire base allow)" -n "new Allow" "$(fire new allow)" \
  -n "base Forbid" "$(fire base forbid)" -n "new Forbid" "$(fire new forbid)" \
  -n "base 10-line history" "$(fire base small)" -n "new 10-line history" "$(fire new small)" >/dev/null
hyperfine -N --warmup 3 --runs "$HISTORY_RUNS" --export-json "$WORK/history.json" \
  -n "base 1M-line history" "$(fire base big)" -n "new 1M-line history" "$(fire new big)" >/dev/null

python3 - "$WORK/fire.json" "$WORK/history.json" "$BASE_REV" <<'PY'
import json, sys
rows = []
for path in sys.argv[1:3]:
    rows += json.load(open(path))["results"]
by = {r["command"]: r for r in rows}
print(f"baseline: {sys.argv[3]}; medians in ms")
print(f"{'fire':<22} {'base':>9} {'new':>9} {'new/base':>9}")
for what in ["Allow", "Forbid", "10-line history", "1M-line history"]:
    b, n = by[f"base {what}"]["median"], by[f"new {what}"]["median"]
    print(f"{what:<22} {b*1e3:>9.2f} {n*1e3:>9.2f} {n/b:>9.2f}")
PY
