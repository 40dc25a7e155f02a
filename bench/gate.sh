#!/usr/bin/env bash
# Cost of a wake-up that the fire-time gate turns away: `cronix trigger --gate` at a minute that is
# not a fire, from process start to exit, side by side with /bin/true: median wall time (hyperfine)
# and peak RSS (/usr/bin/time -v). `cronix version` is the floor of starting this binary at all.
#
# The job is `0 0 1 1 *` in Asia/Kolkata, so every minute but one a year is a non-fire; the shim
# reads the spec, looks the zone up and exits 0 without touching the config, secrets, locks or
# history (the config path given does not exist, the secret is not set: a shim that went further
# would exit 3, which the check below refuses).
#
# Needs: a release build (built here), hyperfine and GNU time (`apt-get install -y hyperfine time`).
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-1000}
cargo build --release --quiet
BIN=$PWD/target/release/cronix
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

mkdir -p "$WORK/jobs"
cat > "$WORK/jobs/bench.settle.json" <<JSON
{"format":1,"app":"bench","job":{"name":"settle","schedules":["0 0 1 1 *"],"timezone":"Asia/Kolkata",
 "request":{"method":"POST","url":"https://bench.example.com/cron","headers":{},"body":""},
 "policy":{"concurrency":"Forbid","concurrency_scope":"host","timeout_seconds":10,"retries":{"max_attempts":3,"min_seconds":1,"max_seconds":10}},
 "auth":{"secret_refs":["env:BENCH_SECRET"]}},
 "secret_refs":["env:BENCH_SECRET"],"lock_dir":"$WORK/locks","state_dir":"$WORK/state"}
JSON
GATE=("$BIN" --config "$WORK/missing.yaml" trigger --spec-dir "$WORK/jobs" --gate 0 bench.settle)

# The gated run must exit 0 and leave nothing behind before it is timed.
"${GATE[@]}"
[ ! -e "$WORK/locks" ] && [ ! -e "$WORK/state" ] || { echo "the gate touched locks or state" >&2; exit 1; }

printf -v GATE_CMD '%q ' "${GATE[@]}"
hyperfine -N --warmup 50 --runs "$RUNS" --export-json "$WORK/h.json" \
  -n "/bin/true" "/bin/true" -n "cronix version" "$BIN version" \
  -n "trigger --gate (no fire)" "$GATE_CMD" >/dev/null

peak_rss() { # command... -> max RSS in KiB over 20 runs
  local max=0 kb
  for _ in $(seq 20); do
    kb=$( /usr/bin/time -v "$@" 2>&1 >/dev/null | awk '/Maximum resident/ {print $6}')
    [ "$kb" -gt "$max" ] && max=$kb
  done
  echo "$max"
}
RSS_TRUE=$(peak_rss /bin/true)
RSS_VERSION=$(peak_rss "$BIN" version)
RSS_GATE=$(peak_rss "${GATE[@]}")

python3 - "$WORK/h.json" "$RSS_TRUE" "$RSS_VERSION" "$RSS_GATE" <<'PY'
import json, sys
results = json.load(open(sys.argv[1]))["results"]
rss = sys.argv[2:5]
base = results[0]["median"]
print(f"{'command':<26} {'median ms':>10} {'mean ms':>9} {'min ms':>8} {'vs true':>8} {'peak RSS MB':>12}")
for r, kb in zip(results, rss):
    print(f"{r['command']:<26} {r['median']*1e3:>10.3f} {r['mean']*1e3:>9.3f} {r['min']*1e3:>8.3f} {r['median']/base:>8.2f} {int(kb)/1024:>12.1f}")
PY
