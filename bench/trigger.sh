#!/usr/bin/env bash
# One fire of `cronix trigger` against a local HTTP server, side by side with curl sending the same
# pre-signed request: median wall time (hyperfine) and peak RSS (/usr/bin/time -v), for an Allow and
# a Forbid job, with history on.
#
# Needs: a release build (built here), python3 (the server), curl, openssl, hyperfine and GNU time
# (`apt-get install -y hyperfine time`).
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-200}
cargo build --release --quiet
BIN=$PWD/target/release/cronix
WORK=$(mktemp -d)
trap 'kill "$SERVER_PID" 2>/dev/null || true; rm -rf "$WORK"' EXIT

source bench/lib/common.sh
start_server "$WORK"
URL_PATH=/api/v1/scheduled/settle
BODY='{"invoice":42}'
export BENCH_SECRET=bench-secret-value

mkdir -p "$WORK/jobs" "$WORK/locks" "$WORK/state"
echo "version: 1" > "$WORK/cronix.yaml"
spec() { # app concurrency
  cat > "$WORK/jobs/$1.settle.json" <<JSON
{"format":1,"app":"$1","job":{"name":"settle","schedules":["* * * * *"],"timezone":"UTC",
 "request":{"method":"POST","url":"http://127.0.0.1:$PORT$URL_PATH","headers":{"Accept":"application/json"},"body":"{\"invoice\":42}"},
 "policy":{"concurrency":"$2","concurrency_scope":"host","timeout_seconds":10,"retries":{"max_attempts":3,"min_seconds":1,"max_seconds":10}},
 "auth":{"secret_refs":["env:BENCH_SECRET"]}},
 "secret_refs":["env:BENCH_SECRET"],"lock_dir":"$WORK/locks","state_dir":"$WORK/state"}
JSON
}
spec allow Allow
spec forbid Forbid

TS=$(date +%s)
V1=$(printf '%s' "$TS.POST.$URL_PATH.$BODY" | openssl dgst -sha256 -hmac "$BENCH_SECRET" -r | cut -d' ' -f1)
CURL=(curl -s -o /dev/null -X POST -H "X-Cron-Signature: t=$TS,v1=$V1" -H "X-Cron-Run-Id: r"
      -H "X-Cron-Schedule-Name: settle" -H "X-Cron-Fire-Time: $TS" -H "X-Cron-Fire-Time-Actual: $TS"
      -H "X-Cron-Attempt: 1" -H "Accept: application/json" --data-binary "$BODY"
      "http://127.0.0.1:$PORT$URL_PATH")
TRIGGER="$BIN --config $WORK/cronix.yaml trigger --spec-dir $WORK/jobs"

# Each command must succeed before it is timed.
"${CURL[@]}"; $TRIGGER allow.settle; $TRIGGER forbid.settle

printf -v CURL_CMD '%q ' "${CURL[@]}"
hyperfine -N --warmup 20 --runs "$RUNS" --export-json "$WORK/h.json" \
  -n curl "$CURL_CMD" -n "trigger Allow" "$TRIGGER allow.settle" -n "trigger Forbid" "$TRIGGER forbid.settle" >/dev/null

peak_rss() { # command... -> max RSS in KiB over 20 runs
  local max=0 kb
  for _ in $(seq 20); do
    kb=$( /usr/bin/time -v "$@" 2>&1 >/dev/null | awk '/Maximum resident/ {print $6}')
    [ "$kb" -gt "$max" ] && max=$kb
  done
  echo "$max"
}
RSS_CURL=$(peak_rss "${CURL[@]}")
RSS_ALLOW=$(peak_rss $TRIGGER allow.settle)
RSS_FORBID=$(peak_rss $TRIGGER forbid.settle)

python3 - "$WORK/h.json" "$RSS_CURL" "$RSS_ALLOW" "$RSS_FORBID" <<'PY'
import json, sys
results = json.load(open(sys.argv[1]))["results"]
rss = dict(zip(["curl", "trigger Allow", "trigger Forbid"], sys.argv[2:5]))
curl = results[0]["median"]
print(f"{'command':<16} {'median ms':>10} {'mean ms':>9} {'vs curl':>8} {'peak RSS MB':>12}")
for r in results:
    print(f"{r['command']:<16} {r['median']*1e3:>10.2f} {r['mean']*1e3:>9.2f} {r['median']/curl:>8.2f} {int(rss[r['command']])/1024:>12.1f}")
PY
echo "history lines written: $(cat "$WORK"/state/history/*.jsonl | wc -l)"
