#!/usr/bin/env bash
# What refusing a hostile manifest costs: peak RSS and wall time per shape (bench/lib/hostile_manifests.py,
# every shape just under the 10 MiB cap), for this tree and for a baseline commit, in one run. Each shape
# goes through `cronix validate FILE`, `cronix apply --manifest FILE` and `cronix apply` of the same
# bytes from a local HTTP server (MODES picks some: "validate apply-file apply-http").
#
# Usage: bench/manifest_bounds.sh BASELINE_REV   (e.g. $(git merge-base HEAD main))
#
# Both trees are built with --release: this one in its target dir ($CARGO_TARGET_DIR or target/), the
# baseline in a worktree of its own (BASE_DIR, default /tmp/cronix-bounds-base, made with `git worktree
# add --detach` when missing) with its own target dir (BASE_TARGET, default $BASE_DIR/target). Every run
# is capped with `prlimit --as` (LIMIT_GB, default 4) and `timeout` (LIMIT_S, default 30): a run that
# hits a cap is reported as "killed at 4 GB" (an allocation failed) or "killed at >30 s", not measured.
# Peak RSS is GNU time's %M (the child's ru_maxrss, via wait4). Needs python3 and /usr/bin/time.
set -euo pipefail
cd "$(dirname "$0")/.."

BASE_REV=${1:?usage: bench/manifest_bounds.sh BASELINE_REV}
BASE_DIR=${BASE_DIR:-/tmp/cronix-bounds-base}
BASE_TARGET=${BASE_TARGET:-$BASE_DIR/target}
MODES=${MODES:-validate apply-file apply-http}
LIMIT_GB=${LIMIT_GB:-4}
LIMIT_S=${LIMIT_S:-30}

cargo build --release --quiet
NEW=${CARGO_TARGET_DIR:-$PWD/target}/release/cronix
if [ ! -d "$BASE_DIR" ]; then
  git worktree add --detach "$BASE_DIR" "$BASE_REV" >/dev/null
else
  git -C "$BASE_DIR" checkout --quiet --detach "$BASE_REV"
fi
(cd "$BASE_DIR" && cargo build --release --quiet --target-dir "$BASE_TARGET")
BASE=$BASE_TARGET/release/cronix

WORK=$(mktemp -d)
SERVER_PID=
trap '[ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null; rm -rf "$WORK"' EXIT
mkdir "$WORK/shapes"
python3 bench/lib/hostile_manifests.py "$WORK/shapes" > "$WORK/names"

# A static server for the shapes on a free loopback port (it ignores the fetch's signature).
python3 -u -m http.server 0 --bind 127.0.0.1 --directory "$WORK/shapes" > "$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 50); do grep -q "port" "$WORK/server.log" 2>/dev/null && break; sleep 0.1; done
PORT=$(sed -n 's/.* port \([0-9]*\).*/\1/p' "$WORK/server.log" | head -1)
[ -n "$PORT" ] || { echo "bench: the local HTTP server did not start" >&2; exit 1; }

: > "$WORK/cronix.yaml"
export CRONIX_CONFIG=$WORK/cronix.yaml CRONIX_TEST_SECRET=bench-secret TZ=UTC HOME=$WORK

# measure BIN MODE SHAPE -> "peak  wall  outcome"
measure() {
  local bin=$1 mode=$2 shape=$3 env=$WORK/env.$RANDOM
  mkdir -p "$env/cron.d"
  local target=(--crontab-path "$env/cron.d/cronix" --spec-dir "$env/jobs" --state-dir "$env/state"
    --lock-dir "$env/locks" --trigger-bin /usr/local/bin/cronix --run-as root
    --secret-ref env:CRONIX_TEST_SECRET)
  local args
  case $mode in
    validate) args=(validate --secret-ref env:CRONIX_TEST_SECRET "$WORK/shapes/$shape.json") ;;
    apply-file) args=(apply --manifest "$WORK/shapes/$shape.json" "${target[@]}") ;;
    apply-http) args=(apply --manifest "http://127.0.0.1:$PORT/$shape.json" --app a "${target[@]}") ;;
  esac
  local code=0
  /usr/bin/time -f "%e %M" -o "$env/time" \
    timeout -s KILL "$LIMIT_S" prlimit --as=$((LIMIT_GB << 30)) "$bin" "${args[@]}" \
    > "$env/out" 2> "$env/err" || code=$?
  local wall peak
  read -r wall peak < <(tail -1 "$env/time")
  local outcome
  if [ "$code" = 124 ] || [ "$code" = 137 ]; then
    outcome="killed at >${LIMIT_S} s"
  elif grep -q "memory allocation of" "$env/err"; then
    outcome="killed at ${LIMIT_GB} GB (allocation failed)"
  elif [ "$code" = 0 ]; then
    outcome="accepted?!"
  else
    outcome="refused, exit $code, $(grep -c . "$env/err") line(s)"
  fi
  printf '%9s %8s  %s\n' "$((peak / 1024)) MB" "${wall} s" "$outcome"
  rm -rf "$env"
}

printf 'baseline %s (%s) vs this tree (%s); caps: %s GB address space, %s s\n' \
  "$BASE_REV" "$(git -C "$BASE_DIR" rev-parse --short HEAD)" "$(git rev-parse --short HEAD)" "$LIMIT_GB" "$LIMIT_S"
printf '%-22s %-10s %-6s %9s %8s  %s\n' shape mode tree "peak RSS" wall outcome
while read -r shape; do
  for mode in $MODES; do
    for tree in base new; do
      bin=$BASE; [ "$tree" = new ] && bin=$NEW
      printf '%-22s %-10s %-6s %s\n' "$shape" "$mode" "$tree" "$(measure "$bin" "$mode" "$shape")"
    done
  done
done < "$WORK/names"
