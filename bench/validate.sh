#!/usr/bin/env bash
# Time `cronix validate` on the largest legal manifest (256 jobs x 64 schedules) beside a plain JSON parse
# of the same file by python3, in one run. Usage: bench/validate.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-20}
cargo build --release --quiet
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
python3 bench/make_manifest.py 256 64 > "$work/max.json"
python3 bench/make_manifest.py 16 64 > "$work/small.json"
bin=target/release/cronix
"$bin" validate "$work/max.json" >/dev/null

median_ms() { # command... -> median wall ms over $runs runs
  local times=()
  for _ in $(seq "$runs"); do
    local t0 t1; t0=$(date +%s%N); "$@" >/dev/null; t1=$(date +%s%N)
    times+=($(( (t1 - t0) / 1000 )))
  done
  printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%.2f", a[int((NR+1)/2)]/1000}'
}
peak_kb() { /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1; }

printf 'manifest bytes: max=%s small=%s\n' "$(wc -c <"$work/max.json")" "$(wc -c <"$work/small.json")"
printf '%-46s %10s %12s\n' "command" "median ms" "peak RSS KB"
for f in max small; do
  printf '%-46s %10s %12s\n' "cronix validate ($f)" "$(median_ms "$bin" validate "$work/$f.json")" "$(peak_kb "$bin" validate "$work/$f.json")"
  printf '%-46s %10s %12s\n' "cronix validate --canonical ($f)" "$(median_ms "$bin" validate --canonical "$work/$f.json")" "$(peak_kb "$bin" validate --canonical "$work/$f.json")"
  printf '%-46s %10s %12s\n' "python3 json.load ($f, baseline)" "$(median_ms python3 -c 'import json,sys;json.load(open(sys.argv[1]))' "$work/$f.json")" "$(peak_kb python3 -c 'import json,sys;json.load(open(sys.argv[1]))' "$work/$f.json")"
done
