#!/usr/bin/env bash
# Stops every process hack/cluster-up.sh started (by the PIDs it recorded: TERM, then KILL after a
# grace period), checks that none of the cluster's ports is still listening, and removes the
# state directory. Safe to run when nothing is up.
# Env: CLUSTER_DIR (default $REPO_ROOT/.cluster), CLUSTER_DOWN_GRACE seconds (default 10).
set -euo pipefail
_cluster_dir_env=${CLUSTER_DIR:-}
# shellcheck source=hack/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
CLUSTER_DIR=${_cluster_dir_env:-$CLUSTER_DIR}
[[ -d $CLUSTER_DIR ]] || { log "nothing to stop: $CLUSTER_DIR does not exist"; exit 0; }
CLUSTER_DIR=$(cd "$CLUSTER_DIR" && pwd)
if [[ ${CLUSTER_LOCK_HELD:-0} != 1 ]]; then exec 9>"$CLUSTER_DIR/.lock"; flock 9; fi
PIDS="$CLUSTER_DIR/pids"
GRACE=${CLUSTER_DOWN_GRACE:-10}
# Reverse start order, one stage at a time: the API server shuts down cleanly only while etcd is
# still there, so etcd goes last.
STAGES=("kwok kube-scheduler kube-controller-manager" "kube-apiserver" "etcd")

# running <component> <pid>: that PID still runs that binary (no recycled PID, no zombie).
running() { [[ $(basename "$(readlink "/proc/$2/exe" 2>/dev/null)") == "$1" ]]; }

declare -A pid_of=()
stopped=()
for stage in "${STAGES[@]}"; do
  read -ra group <<<"$stage"
  live=()
  for c in "${group[@]}"; do
    [[ -f $PIDS/$c.pid ]] || continue
    pid=$(cat "$PIDS/$c.pid")
    if running "$c" "$pid"; then pid_of[$c]=$pid; live+=("$c"); kill -TERM "$pid" 2>/dev/null || true; fi
  done
  deadline=$((SECONDS + GRACE))
  for c in "${live[@]}"; do
    while running "$c" "${pid_of[$c]}" && ((SECONDS < deadline)); do sleep 0.1; done
    if running "$c" "${pid_of[$c]}"; then
      log "$c (pid ${pid_of[$c]}) ignored TERM for ${GRACE}s; sending KILL"
      kill -KILL "${pid_of[$c]}" 2>/dev/null || true
      sleep 0.2
    fi
    running "$c" "${pid_of[$c]}" && die "$c (pid ${pid_of[$c]}) is still running"
    stopped+=("$c")
  done
done

# No port of this cluster may still accept connections.
if [[ -f $CLUSTER_DIR/state.env ]]; then
  for p in $(sed -n 's/^[A-Z_]*PORT=\([0-9]*\)$/\1/p' "$CLUSTER_DIR/state.env"); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then die "port 127.0.0.1:$p still accepts connections"; fi
  done
fi

# Remove only what cluster-up.sh writes (a mistyped CLUSTER_DIR must not wipe anything else).
rm -rf "$CLUSTER_DIR"/{pki,pids,logs,etcd} "$CLUSTER_DIR"/*kubeconfig "$CLUSTER_DIR"/{state.env,nodes.yaml,audit.log,audit-policy.yaml,.lock}
rmdir "$CLUSTER_DIR" 2>/dev/null || log "left $CLUSTER_DIR in place: it holds files cluster-up.sh did not write"
log "stopped ${#stopped[@]} process(es) (${stopped[*]}); removed $CLUSTER_DIR"
