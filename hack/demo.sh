#!/usr/bin/env bash
# `make demo`: deploys the studio.
#   STUDIO_KUBECONFIG=/path/to/kubeconfig make demo   -> onto that cluster (inventories/example)
#   make demo                                         -> onto the local control plane (started if needed)
# Extra ansible-playbook arguments: DEMO_ARGS="-e ... --check --diff".
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"
export CLUSTER_DIR
export PATH="$VENV/bin:$REPO_ROOT/.cache/bin:$PATH" ANSIBLE_CONFIG="$REPO_ROOT/ansible.cfg"
# shellcheck disable=SC2206
extra=(${DEMO_ARGS:-})

if [ -n "${STUDIO_KUBECONFIG:-}" ]; then
  [ -r "$STUDIO_KUBECONFIG" ] || die "STUDIO_KUBECONFIG=$STUDIO_KUBECONFIG is not a readable file"
  command -v helm >/dev/null || bash hack/build-tools.sh
  log "deploying onto the cluster of $STUDIO_KUBECONFIG"
  ansible-playbook site.yml -i inventories/example -e studio_kubeconfig="$STUDIO_KUBECONFIG" "${extra[@]}"
  kubeconfig=$STUDIO_KUBECONFIG
else
  bash hack/build-tools.sh
  bash hack/cluster-up.sh
  bash hack/standin-chart.sh >/dev/null
  log "starting the operator stand-in and a real Flink SQL Gateway on 127.0.0.1 (first start builds FLINK_HOME)"
  "$VENV/bin/python" hack/local_services.py start >/dev/null
  log "deploying onto the local control plane ($CLUSTER_DIR/kubeconfig)"
  ansible-playbook site.yml -i inventories/local "${extra[@]}"
  kubeconfig=${CLUSTER_DIR}/kubeconfig
fi

k() { kubectl --kubeconfig "$kubeconfig" "$@"; }
echo
echo "== Flink SQL Studio"
k get namespaces -l app.kubernetes.io/part-of=flink-sql-studio -L flinksql.studio/role,flinksql.studio/tenant,pod-security.kubernetes.io/enforce
echo
k get flinkdeployments -A -o custom-columns='NAMESPACE:.metadata.namespace,SESSION CLUSTER:.metadata.name,JOBMANAGER:.status.jobManagerDeploymentStatus,LIFECYCLE:.status.lifecycleState,FLINK:.spec.flinkVersion' 2>/dev/null || true
echo
k get deployments,services,ingresses -A -l app.kubernetes.io/part-of=flink-sql-studio 2>/dev/null || true
echo
echo "In-cluster addresses:"
k get services -A -l app.kubernetes.io/name=sql-gateway -o jsonpath='{range .items[*]}  SQL Gateway ({.metadata.labels.flinksql\.studio/tenant}): http://{.metadata.name}.{.metadata.namespace}.svc:8083{"\n"}{end}'
k get services -A -l app.kubernetes.io/name=hue -o jsonpath='{range .items[*]}  Hue: http://{.metadata.name}.{.metadata.namespace}.svc:8888{"\n"}{end}' 2>/dev/null || true
k get ingresses -A -l app.kubernetes.io/name=hue -o jsonpath='{range .items[*]}  Hue ingress: https://{.spec.rules[0].host}/{"\n"}{end}' 2>/dev/null || true
if [ -z "${STUDIO_KUBECONFIG:-}" ]; then
  echo
  echo "Local control plane: real kube-apiserver/etcd/controllers; pods are simulated by kwok and the"
  echo "operator's work is done by hack/operator_standin.py (docs/local-control-plane.md)."
  echo "The smoke test ran Hue's call sequence against a real Flink SQL Gateway on $("$VENV/bin/python" hack/local_services.py url)."
  echo "kubectl --kubeconfig .cluster/kubeconfig get all -A    # look around;   make cluster-down    # stop it all"
fi
