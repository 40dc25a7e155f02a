#!/usr/bin/env bash
# Apply 1,024 jobs' timers (256 jobs x 4 schedules: 2,048 unit files) with the systemd-timer backend
# and the same manifest with the crontab backend, in one run: first apply, one changed job, no-op
# re-apply; and the number of `systemctl` invocations of each apply (a constant, not one per unit).
# systemctl is a counting stand-in here (CRONIX_SYSTEMCTL): the figures are cronix's own cost; the
# real-systemd test (tests/systemd_e2e.rs) checks the same calls against a real systemd.
# Usage: bench/systemd_apply.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
cargo build --release --quiet
bin=$PWD/target/release/cronix
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
export TZ=UTC CRONIX_CONFIG="$work/cronix.yaml"
: >"$CRONIX_CONFIG"
printf '#!/bin/sh\necho "$*" >> %s/calls\n' "$work" >"$work/systemctl"
chmod +x "$work/systemctl"
export CRONIX_SYSTEMCTL=$work/systemctl

python3 bench/make_manifest.py 256 4 >"$work/m1.json"
# One job changed (its URL), for the update figure.
sed 's#/cron/job-007"#/cron/job-007-v2"#' "$work/m1.json" >"$work/m2.json"

common=(--spec-dir "$work/jobs" --state-dir "$work/state" --lock-dir "$work/locks"
        --trigger-bin /usr/local/bin/cronix --secret-ref env:BENCH_SECRET)
systemd=(--backend systemd-timer --systemd-unit-dir "$work/units" "${common[@]}")
crontab=(--backend crontab --crontab-path "$work/cron/cronix" --run-as root "${common[@]}")

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ms() { # command... -> wall ms
  local t0 t1; t0=$(date +%s%N); "$@" >/dev/null; t1=$(date +%s%N); echo $(( (t1 - t0) / 1000000 ))
}
calls() { if [ -e "$work/calls" ]; then wc -l <"$work/calls"; else echo 0; fi; }

row() { # name flags-var
  local name=$1; local -n flags=$2
  local first=() update=() noop=() c_first c_update c_noop
  for _ in $(seq "$runs"); do
    rm -rf "$work/units" "$work/cron" "$work/jobs" "$work/state" "$work/calls"
    mkdir -p "$work/units" "$work/cron"
    first+=("$(ms "$bin" apply --manifest "$work/m1.json" "${flags[@]}")"); c_first=$(calls)
    update+=("$(ms "$bin" apply --manifest "$work/m2.json" "${flags[@]}")"); c_update=$(( $(calls) - c_first ))
    noop+=("$(ms "$bin" apply --manifest "$work/m2.json" "${flags[@]}")"); c_noop=$(( $(calls) - c_first - c_update ))
  done
  printf '%-14s %10s %8s %12s %8s %12s %8s\n' "$name" \
    "$(printf '%s\n' "${first[@]}" | median)" "$c_first" \
    "$(printf '%s\n' "${update[@]}" | median)" "$c_update" \
    "$(printf '%s\n' "${noop[@]}" | median)" "$c_noop"
}

printf '1,024 entries (256 jobs x 4 schedules); wall ms, medians of %s runs; calls = systemctl invocations\n' "$runs"
printf '%-14s %10s %8s %12s %8s %12s %8s\n' backend "apply" calls "update 1 job" calls "no-op" calls
row systemd-timer systemd
echo "unit files in the unit dir after the systemd-timer applies: $(ls "$work/units" | grep -c '^cronix-')"
row crontab crontab
