#!/usr/bin/env bash
# Time `cronix plan`, a first `cronix apply` and the no-op re-apply on the largest legal manifest
# (256 jobs x 64 schedules = 16,384 entries) into a crontab holding 10,000 foreign lines, and on half
# of both, to show linear growth. Checks that the no-op re-apply rewrites nothing (inode and mtime of
# the crontab and of every spec file unchanged). Usage: bench/reconcile.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
cargo build --release --quiet
bin=$PWD/target/release/cronix
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
export TZ=UTC CRONIX_CONFIG="$work/cronix.yaml"
: >"$CRONIX_CONFIG"

foreign() { # lines -> a crontab of foreign lines: comments, variables, entries, blanks
  python3 - "$1" <<'PY'
import sys
n = int(sys.argv[1])
kinds = ["# note {i}", "VAR_{i}=value-{i}", "{m} {h} * * * root /usr/bin/job-{i} --flag", ""]
for i in range(n):
    print(kinds[i % 4].format(i=i, m=i % 60, h=i % 24))
PY
}

# Each measurement prints "wall/cpu": the median wall ms and the median CPU (user+sys) ms over $runs
# runs. CPU time is the steadier figure on a loaded machine; wall includes the fsyncs.
measure() { # prepare-command -- command... -> "wall/cpu"
  local prep=$1; shift
  local walls=() cpus=()
  for _ in $(seq "$runs"); do
    eval "$prep"
    local t0 t1; t0=$(date +%s%N)
    /usr/bin/time -f '%U %S' -o "$work/cpu" "$@" >/dev/null
    t1=$(date +%s%N)
    walls+=($(( (t1 - t0) / 1000 )))
    cpus+=($(awk '{printf "%d", ($1 + $2) * 1000}' "$work/cpu"))
  done
  local wall cpu
  wall=$(printf '%s\n' "${walls[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%.0f", a[int((NR+1)/2)]/1000}')
  cpu=$(printf '%s\n' "${cpus[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  echo "$wall/$cpu"
}

snapshot() { stat -c '%n %i %Y.%y' "$1/cron/cronix" "$1"/jobs/* | sha256sum; }

printf 'figures are wall ms / CPU ms (medians of %s runs)\n' "$runs"
printf '%-34s %8s %12s %12s %12s %14s\n' "size" "entries" "plan" "apply" "no-op apply" "no-op rewrote"
for size in "128 64 5000" "256 64 10000"; do
  read -r jobs scheds lines <<<"$size"
  dir="$work/$jobs"; mkdir -p "$dir/cron"
  python3 bench/make_manifest.py "$jobs" "$scheds" >"$dir/manifest.json"
  foreign "$lines" >"$dir/foreign"; cp "$dir/foreign" "$dir/cron/cronix"
  flags=(--manifest "$dir/manifest.json" --crontab-path "$dir/cron/cronix" --spec-dir "$dir/jobs"
         --state-dir "$dir/state" --lock-dir "$dir/locks" --trigger-bin /usr/local/bin/cronix
         --run-as root --secret-ref env:BENCH_SECRET)
  plan=$(measure : "$bin" plan "${flags[@]}")
  apply=$(measure 'cp "$dir/foreign" "$dir/cron/cronix"; rm -rf "$dir/jobs" "$dir/state"' "$bin" apply "${flags[@]}")
  before=$(snapshot "$dir")
  noop=$(measure : "$bin" apply "${flags[@]}")
  after=$(snapshot "$dir")
  rewrote=no; [ "$before" = "$after" ] || rewrote=YES
  "$bin" apply "${flags[@]}" | grep -q "nothing changed" || rewrote="YES (output)"
  printf '%-34s %8s %12s %12s %12s %14s\n' "$jobs jobs x $scheds, $lines foreign" "$((jobs * scheds))" \
    "$plan" "$apply" "$noop" "$rewrote"
done
printf 'crontab bytes (largest): %s\n' "$(wc -c <"$work/256/cron/cronix")"
