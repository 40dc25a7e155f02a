#!/usr/bin/env bash
# First apply and no-op re-apply of 1,024 entries (256 jobs x 4 schedules: 2,048 unit files and 256
# spec files) with the systemd-timer backend, for this tree and for a baseline commit, in one run:
# wall time (hyperfine, or a loop), the fsync/fdatasync/syncfs calls of each apply (strace -c), the
# systemctl calls of each apply, and a check that the no-op re-apply rewrote nothing.
#
# systemctl is a counting stand-in (config systemctl_bin), as in tests/it/systemd_units.rs: the
# figures are cronix's own cost (files, syncs, spawning systemctl), not systemd's daemon-reload.
# The baseline (default: the commit before unit and spec files were synced in one batch) is built
# from a `git worktree` under /tmp with its own target dir (BASE_TARGET_DIR, default the target dir
# with a `-base` suffix); its binary is kept there, so a second run builds nothing for it.
# Each figure is the median (and the fastest) of ROUNDS rounds of RUNS runs, the rounds alternating
# between the two binaries, so a change of load on a shared machine falls on both.
# Usage: bench/systemd_apply.sh [RUNS] [BASE_COMMIT]   (ROUNDS=3 by default)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-4}
rounds=${ROUNDS:-3}
base=$(git rev-parse "${2:-f1593814a18637005a321126c753e911eb16ae25}")
target=${CARGO_TARGET_DIR:-$PWD/target}
base_target=${BASE_TARGET_DIR:-$target-base}
work=$(mktemp -d)
base_tree=""
cleanup() {
  if [ -n "$base_tree" ]; then git worktree remove --force "$base_tree" >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

cargo build --release --quiet
new_bin=$target/release/cronix
base_bin=$base_target/cronix-${base:0:12}
if [ ! -x "$base_bin" ]; then
  base_tree=$(mktemp -d /tmp/cronix-bench-base.XXXXXX)
  git worktree add --quiet --detach "$base_tree" "$base"
  (cd "$base_tree" && CARGO_TARGET_DIR=$base_target cargo build --release --quiet)
  cp "$base_target/release/cronix" "$base_bin"
fi

export TZ=UTC
printf '#!/bin/sh\necho "$*" >> "$(dirname "$0")/calls"\nexit 0\n' >"$work/systemctl.in"
python3 bench/make_manifest.py 256 4 >"$work/manifest.json"

# One work dir per binary: its config (naming its stand-in systemctl), unit, spec, state, lock dirs.
for side in base new; do
  mkdir -p "$work/$side"
  install -m 0755 "$work/systemctl.in" "$work/$side/systemctl"
  printf 'systemctl_bin: %s\n' "$work/$side/systemctl" >"$work/$side/cronix.yaml"
done

flags() { # side -> the apply flags of that side's target
  local d=$work/$1
  echo --manifest "$work/manifest.json" --backend systemd-timer --systemd-unit-dir "$d/units" \
    --spec-dir "$d/jobs" --state-dir "$d/state" --lock-dir "$d/locks" \
    --trigger-bin /usr/local/bin/cronix --secret-ref env:BENCH_SECRET
}
bin_of() { if [ "$1" = base ]; then echo "$base_bin"; else echo "$new_bin"; fi; }
# reset side: fresh, empty dirs for a first apply. The previous ones are moved aside and deleted only
# at the end: on ext4 (here mounted with discard), creating 2,300 files right after deleting as many
# costs seconds of system time, which no real first apply pays.
reset() {
  local aside; aside=$(mktemp -d "$work/aside.XXXXXX")
  mv "$work/$1/units" "$work/$1/jobs" "$work/$1/state" "$aside/" 2>/dev/null || true
  rm -f "$work/$1/calls"; mkdir "$work/$1/units"
}
apply() { # side: one apply; its warnings (the manifest's jobs have no Content-Type) only on failure
  CRONIX_CONFIG="$work/$1/cronix.yaml" "$(bin_of "$1")" apply $(flags "$1") >/dev/null 2>"$work/$1/stderr" ||
    { cat "$work/$1/stderr" >&2; return 1; }
}
calls() { if [ -e "$work/$1/calls" ]; then wc -l <"$work/$1/calls"; else echo 0; fi; }

# time_runs side kind: `runs` applies of one kind (first: into empty dirs; noop: over the same
# manifest applied), their wall ms appended to $work/times-side-kind.
time_runs() {
  local side=$1 kind=$2 prep=":"
  if [ "$kind" = first ]; then prep="reset $side"; else reset "$side"; apply "$side"; fi
  if command -v hyperfine >/dev/null; then
    export -f reset apply flags bin_of; export work base_bin new_bin
    hyperfine --shell bash --style none --runs "$runs" --prepare "$prep" \
      --export-json "$work/hyperfine.json" "apply $side" >/dev/null 2>"$work/hyperfine.err" ||
      { cat "$work/hyperfine.err" >&2; return 1; }
    python3 -c 'import json,sys; [print(round(t*1000)) for t in json.load(open(sys.argv[1]))["results"][0]["times"]]' \
      "$work/hyperfine.json" >>"$work/times-$side-$kind"
  else
    local t0 t1
    for _ in $(seq "$runs"); do
      eval "$prep"; t0=$(date +%s%N); apply "$side"; t1=$(date +%s%N)
      echo $(( (t1 - t0) / 1000000 )) >>"$work/times-$side-$kind"
    done
  fi
}
median_min() { sort -n "$work/times-$1" | awk '{a[NR]=$1} END {printf "%s (%s)", a[int((NR+1)/2)], a[1]}'; }

# syncs side kind: "fsync/fdatasync/syncfs" calls of one apply (kind first|noop), and its systemctl calls.
syncs() {
  local side=$1 kind=$2
  if [ "$kind" = first ]; then reset "$side"; else reset "$side"; apply "$side"; fi
  local before; before=$(calls "$side")
  CRONIX_CONFIG="$work/$side/cronix.yaml" strace -f -c -o "$work/strace" \
    -e trace=fsync,fdatasync,syncfs "$(bin_of "$side")" apply $(flags "$side") >/dev/null 2>&1
  local counts
  counts=$(awk '$NF ~ /^(fsync|fdatasync|syncfs)$/ {n[$NF]=$4}
    END {printf "%d/%d/%d", n["fsync"], n["fdatasync"], n["syncfs"]}' "$work/strace")
  echo "$counts $(( $(calls "$side") - before ))"
}

# A no-op re-apply must change no file: names, inodes, mtimes and bytes of the units and specs.
# (The apply lock file, `.cronix-apply.lock`, holds the holder's line: it is not a unit.)
snapshot() { (cd "$work/$1" && find units jobs -type f ! -name '.*' -printf '%p %i %T@\n' | sort; cat units/* jobs/*) | sha256sum; }
noop_rewrote() {
  reset "$1"; apply "$1"
  local before; before=$(snapshot "$1"); apply "$1"
  if [ "$before" = "$(snapshot "$1")" ]; then echo no; else echo YES; fi
}

declare -A sc rw
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for _ in $(seq "$rounds"); do
  for side in base new; do
    for kind in first noop; do time_runs "$side" "$kind"; done
  done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
for side in base new; do
  for kind in first noop; do sc[$side-$kind]=$(syncs "$side" "$kind"); done
  rw[$side]=$(noop_rewrote "$side")
done
units=$(find "$work/new/units" -name 'cronix-*' | wc -l)
specs=$(find "$work/new/jobs" -name '*.json' | wc -l)

printf '1,024 entries (256 jobs x 4 schedules): %s unit files, %s spec files\n' "$units" "$specs"
printf 'wall ms = median (fastest) of %s runs in %s rounds; load average %s before, %s after\n' \
  "$((runs * rounds))" "$rounds" "$load_before" "$load_after"
printf 'syncs = fsync/fdatasync/syncfs calls (strace -f -c); systemctl = calls of the stand-in\n'
printf 'baseline %s, this tree %s\n\n' "${base:0:12}" "$(git rev-parse --short=12 HEAD)$(git diff --quiet HEAD || echo +changes)"
printf '%-10s %16s %16s %14s %14s\n' "" "first apply ms" "no-op apply ms" "first: syncs" "no-op: syncs"
for side in base new; do
  read -r fs _ <<<"${sc[$side-first]}"; read -r ns _ <<<"${sc[$side-noop]}"
  name=baseline; [ "$side" = new ] && name="this tree"
  printf '%-10s %16s %16s %14s %14s\n' "$name" "$(median_min "$side-first")" "$(median_min "$side-noop")" "$fs" "$ns"
done
printf '\n%-10s %16s %16s %14s\n' "" "first: systemctl" "no-op: systemctl" "no-op rewrote"
for side in base new; do
  read -r _ fc <<<"${sc[$side-first]}"; read -r _ nc <<<"${sc[$side-noop]}"
  name=baseline; [ "$side" = new ] && name="this tree"
  printf '%-10s %16s %16s %14s\n' "$name" "$fc" "$nc" "${rw[$side]}"
done
