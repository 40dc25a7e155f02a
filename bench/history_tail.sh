#!/usr/bin/env bash
# One fire of `cronix trigger` with a 10-line history and with a 1,000,000-line history, side by side,
# for this tree and a baseline binary, measured in one hyperfine run: median wall time of each.
# The shim reads only the ends of a history file (the first record and blocks from the end up to the
# last success), so its cost must not grow with the file; the baseline read the whole file.
#
# Usage: bench/history_tail.sh [BASE_BIN]
#   BASE_BIN   the baseline binary (default: built from BASE_COMMIT, default 2b50e01, in a worktree
#              at /tmp/cronix-base-scope with its own target dir)
#   RUNS       timed runs per command (default 30), LINES (default 1000000)
# Needs: a release build (built here), python3 (the server), hyperfine.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-30}
LINES=${LINES:-1000000}
BASE_COMMIT=${BASE_COMMIT:-2b50e01}
cargo build --release --quiet
BIN=$PWD/target/release/cronix
BASE_BIN=${1:-}
if [ -z "$BASE_BIN" ]; then
  BASE_DIR=/tmp/cronix-base-scope
  [ -d "$BASE_DIR" ] || git worktree add "$BASE_DIR" "$BASE_COMMIT" >/dev/null
  (cd "$BASE_DIR" && cargo build --release --quiet)
  BASE_BIN=$BASE_DIR/target/release/cronix
fi

WORK=$(mktemp -d)
trap 'kill "$SERVER_PID" 2>/dev/null || true; rm -rf "$WORK"' EXIT

source bench/lib/common.sh
start_server "$WORK"
export BENCH_SECRET=bench-secret-value

# Retention high enough that neither binary compacts during the run (a compaction is a separate,
# amortized cost: once per 10 % of max_runs fires).
printf 'version: 1\nhistory:\n  max_runs: 100000000\n  max_age_days: 36500\n' > "$WORK/cronix.yaml"
mkdir -p "$WORK/jobs" "$WORK/locks"
spec() { # app
  mkdir -p "$WORK/state-$1/history"
  cat > "$WORK/jobs/$1.settle.json" <<JSON
{"format":1,"app":"$1","job":{"name":"settle","schedules":["* * * * *"],"timezone":"UTC",
 "request":{"method":"POST","url":"http://127.0.0.1:$PORT/cron/settle","headers":{},"body":"{}"},
 "policy":{"concurrency":"Allow","concurrency_scope":"host","timeout_seconds":10,"retries":{"max_attempts":1,"min_seconds":0,"max_seconds":1}},
 "auth":{"secret_refs":["env:BENCH_SECRET"]}},
 "secret_refs":["env:BENCH_SECRET"],"lock_dir":"$WORK/locks","state_dir":"$WORK/state-$1"}
JSON
}
history() { # app lines: records of past fires, the newest one a success
  python3 - "$WORK/state-$1/history/$1.settle.jsonl" "$1" "$2" <<'PY'
import sys, datetime
path, app, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
start = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=n)
with open(path, "w") as f:
    for i in range(n):
        t = (start + datetime.timedelta(minutes=i)).strftime("%Y-%m-%dT%H:%M:%S")
        status = "ok" if i % 7 == 0 or i == n - 1 else "exhausted"
        f.write('{"run_id":"0190aaaa-bbbb-7ccc-8ddd-%012d","app":"%s","job":"settle","fire_time":"%sZ",'
                '"started_at":"%s.000Z","duration_ms":12,"attempts":1,"status":"%s","http_status":%s,'
                '"exit_code":%d,"error":%s}\n' % (i, app, t, t, status,
                "204" if status == "ok" else "503", 0 if status == "ok" else 2,
                "null" if status == "ok" else '"http_503"'))
PY
}
spec small; history small 10
spec big; history big "$LINES"
echo "history files: small $(wc -l < "$WORK/state-small/history/small.settle.jsonl") lines," \
     "big $(wc -l < "$WORK/state-big/history/big.settle.jsonl") lines ($(du -h "$WORK/state-big/history/big.settle.jsonl" | cut -f1))"

run() { echo "$1 --config $WORK/cronix.yaml trigger --spec-dir $WORK/jobs $2.settle"; }
for b in "$BASE_BIN" "$BIN"; do for app in small big; do $(run "$b" "$app"); done; done

hyperfine -N --warmup 3 --runs "$RUNS" --export-json "$WORK/h.json" \
  -n "baseline, 10 lines" "$(run "$BASE_BIN" small)" \
  -n "baseline, $LINES lines" "$(run "$BASE_BIN" big)" \
  -n "this tree, 10 lines" "$(run "$BIN" small)" \
  -n "this tree, $LINES lines" "$(run "$BIN" big)" >/dev/null

python3 - "$WORK/h.json" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
names = list(r)
print(f"{'command':<28} {'median ms':>10} {'mean ms':>9} {'max ms':>8}")
for n in names:
    x = r[n]
    print(f"{n:<28} {x['median']*1e3:>10.2f} {x['mean']*1e3:>9.2f} {x['max']*1e3:>8.2f}")
base_ratio = r[names[1]]["median"] / r[names[0]]["median"]
ours_ratio = r[names[3]]["median"] / r[names[2]]["median"]
print(f"big/small median: baseline {base_ratio:.2f}x, this tree {ours_ratio:.2f}x")
PY
