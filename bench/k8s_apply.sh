#!/usr/bin/env bash
# cronix apply kubernetes of 256 jobs (256 CronJobs + 256 spec ConfigMaps) against
# `kubectl apply --server-side` of the same objects, side by side in one run against the real test
# cluster: first apply, one changed job, no-op re-apply. The objects kubectl applies are the ones
# cronix wrote, read back (`kubectl get -l cronix.dev/managed=true -o json`, server fields removed)
# and moved to kubectl's own namespace, so both sides apply the same bytes. API requests of each
# step are counted from the API server's audit log (all requests, and the writes among them).
#
# Usage: bench/k8s_apply.sh [RUNS]      (default 3; the median of each figure is printed)
# Needs a running cluster: CRONIX_TEST_K8S=DIR (from `.ci/k8s up DIR`), else one is started in a
# temp dir and stopped at the end. BIN=path picks the cronix binary (default: a release build).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
if [ -z "${BIN:-}" ]; then
  cargo build --release --quiet
  BIN=${CARGO_TARGET_DIR:-$PWD/target}/release/cronix
fi
work=$(mktemp -d)
started_cluster=
cleanup() {
  for ns in "${namespaces[@]:-}"; do
    [ -n "$ns" ] && "$KUBECTL" delete namespace "$ns" --wait=false >/dev/null 2>&1 || true
  done
  if [ -n "$started_cluster" ]; then .ci/k8s down "$started_cluster" >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
namespaces=()
trap cleanup EXIT
if [ -z "${CRONIX_TEST_K8S:-}" ]; then
  started_cluster=$(mktemp -d /tmp/cronix-k8s.XXXXXX)
  .ci/k8s up "$started_cluster" >"$work/up.log" 2>&1 || { cat "$work/up.log"; exit 1; }
  CRONIX_TEST_K8S=$started_cluster
fi
# shellcheck disable=SC1091
source "$CRONIX_TEST_K8S/env"
KUBECTL=$CRONIX_K8S_KUBECTL
AUDIT=$CRONIX_K8S_AUDIT_LOG
k() { "$KUBECTL" --kubeconfig "$KUBECONFIG" "$@"; }

python3 bench/make_manifest.py 256 1 bench-app >"$work/m1.json"
sed 's#/cron/job-007"#/cron/job-007-v2"#' "$work/m1.json" >"$work/m2.json"
cat >"$work/cronix.yaml" <<YAML
state_dir: $work/state
lock_dir: $work/lock
spec_dir: $work/spec
kubernetes:
  image_pull_policy: Never
YAML
mkdir -p "$work/state" "$work/lock" "$work/spec"

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
mark() { stat -c %s "$AUDIT"; }
# requests since MARK by the admin user: "ALL WRITES"
requests() {
  sleep 1.5 # the audit log is written asynchronously
  python3 - "$AUDIT" "$1" <<'PY'
import json, sys
path, mark = sys.argv[1], int(sys.argv[2])
with open(path, "rb") as f:
    f.seek(max(mark - 1, 0))
    data = f.read().decode("utf-8", "replace")
if mark:
    data = data.split("\n", 1)[1] if "\n" in data else ""
total = writes = 0
for line in data.splitlines():
    try:
        e = json.loads(line)
    except ValueError:
        continue
    if e.get("stage") != "ResponseComplete" or e.get("user", {}).get("username") != "admin":
        continue
    total += 1
    writes += e.get("verb") in ("create", "update", "patch", "delete", "deletecollection")
print(total, writes)
PY
}
cronix_apply() { # ns manifest
  "$BIN" --config "$work/cronix.yaml" apply kubernetes --manifest "$2" \
    --secret-ref env:BENCH_SECRET --k8s-namespace "$1" --kubeconfig "$KUBECONFIG" \
    --k8s-image cronix.local/cronix:bench >/dev/null 2>"$work/cronix.err" || {
    cat "$work/cronix.err" >&2; return 1; }
}
# The objects cronix wrote in NS, as kubectl's input for namespace TO.
export_objects() { # ns to out
  k -n "$1" get cronjobs,configmaps -l cronix.dev/managed=true -o json | python3 -c '
import json, sys
doc = json.load(sys.stdin)
for o in doc["items"]:
    m = o["metadata"]
    o["metadata"] = {k: m[k] for k in ("name", "labels", "annotations") if k in m}
    o["metadata"]["namespace"] = sys.argv[1]
    o.pop("status", None)
json.dump(doc, sys.stdout)' "$2" >"$3"
}
kubectl_apply() { k apply --server-side --field-manager bench -f "$1" >/dev/null; }

declare -A fig
step() { # label command...
  local label=$1; shift
  local m0 t0 t1
  m0=$(mark); t0=$(now_ms); "$@"; t1=$(now_ms)
  read -r all writes < <(requests "$m0")
  fig[$label]+="$((t1 - t0)) $all $writes;"
}

for run in $(seq "$runs"); do
  a="bench-cronix-$$-$run"; b="bench-kubectl-$$-$run"
  namespaces+=("$a" "$b")
  k create namespace "$a" >/dev/null; k create namespace "$b" >/dev/null
  k -n "$a" create secret generic cronix-secrets --from-literal=BENCH_SECRET=x >/dev/null
  step cronix_first cronix_apply "$a" "$work/m1.json"
  export_objects "$a" "$b" "$work/o1.json"
  step kubectl_first kubectl_apply "$work/o1.json"
  step cronix_changed cronix_apply "$a" "$work/m2.json"
  export_objects "$a" "$b" "$work/o2.json"
  step kubectl_changed kubectl_apply "$work/o2.json"
  step cronix_noop cronix_apply "$a" "$work/m2.json"
  step kubectl_noop kubectl_apply "$work/o2.json"
  k delete namespace "$a" "$b" --wait=false >/dev/null
done

median() { tr ';' '\n' | awk -v c="$1" 'NF {print $c}' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
printf '%-22s %10s %10s %10s %10s\n' "apply of 256 jobs" "cronix ms" "kubectl ms" "ratio" "requests (writes) cronix / kubectl"
for s in first changed noop; do
  c=${fig[cronix_$s]}; kk=${fig[kubectl_$s]}
  cm=$(median 1 <<<"$c"); km=$(median 1 <<<"$kk")
  printf '%-22s %10s %10s %10s   %s (%s) / %s (%s)\n' "$s" "$cm" "$km" \
    "$(awk -v a="$cm" -v b="$km" 'BEGIN {printf "%.2f", a / b}')" \
    "$(median 2 <<<"$c")" "$(median 3 <<<"$c")" "$(median 2 <<<"$kk")" "$(median 3 <<<"$kk")"
done
echo "($runs runs each, medians; cronix: $BIN; kubectl: $KUBECTL)"
