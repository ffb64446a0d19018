#!/usr/bin/env bash
# Starts the local Kubernetes control plane on 127.0.0.1 from the binaries hack/build-tools.sh built:
#   etcd -> kube-apiserver (TLS, Node,RBAC, PodSecurity/ResourceQuota/... admission)
#        -> kube-controller-manager + kube-scheduler -> kwok (simulated nodes and pod lifecycles)
# State lives in $CLUSTER_DIR (default .cluster/): kubeconfig (admin), pki/, pids/, logs/, state.env.
# Idempotent: a healthy cluster in $CLUSTER_DIR is reused (same processes, exit 0); a broken or
# partial one is stopped (hack/cluster-down.sh) and started afresh on new random ports.
#
# Env: CLUSTER_DIR        state directory (default $REPO_ROOT/.cluster); one cluster per directory
#      CLUSTER_APPLY_CRDS=1  also apply the Flink operator CRDs from hack/fetch-crds.sh
#      CLUSTER_NODES      number of kwok nodes (default 2)
#      CLUSTER_TIMEOUT    seconds to wait for each readiness step (default 90)
#      CLUSTER_AUDIT_LOG=1   write an audit log (metadata of every request, JSON lines) to
#                         $CLUSTER_DIR/audit.log: how benchmarks count the API requests a run makes
set -euo pipefail
set +m   # no job control: background children keep our PID bookkeeping exact (setsid execs in place)
_cluster_dir_env=${CLUSTER_DIR:-}
# shellcheck source=hack/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
CLUSTER_DIR=${_cluster_dir_env:-$CLUSTER_DIR}
mkdir -p "$CLUSTER_DIR"; CLUSTER_DIR=$(cd "$CLUSTER_DIR" && pwd)
# One cluster-up/cluster-down at a time per directory (two test sessions starting together).
exec 9>"$CLUSTER_DIR/.lock"; flock 9

BIN="$REPO_ROOT/.cache/bin"
PKI="$CLUSTER_DIR/pki"; PIDS="$CLUSTER_DIR/pids"; LOGS="$CLUSTER_DIR/logs"
KUBECONFIG_FILE="$CLUSTER_DIR/kubeconfig"
STATE="$CLUSTER_DIR/state.env"
COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)
NODES=${CLUSTER_NODES:-2}
TIMEOUT=${CLUSTER_TIMEOUT:-90}
SERVICE_CIDR=10.96.0.0/16       # virtual IP allocation only: nothing routes or listens there
SERVICE_IP=10.96.0.1            # the `kubernetes` Service's ClusterIP (in the serving cert)
POD_CIDR_PREFIX=127.1           # node i gets spec.podCIDR 127.1.<i>.0/24; node IP 127.0.1.<i>
START=$SECONDS

kubectl() { command "$BIN/kubectl" --kubeconfig "$KUBECONFIG_FILE" "$@"; }
# alive <component>: its recorded PID runs that very binary (not a recycled PID, not a zombie).
alive() {
  local pid; pid=$(cat "$PIDS/$1.pid" 2>/dev/null) || return 1
  [[ $(basename "$(readlink "/proc/$pid/exe" 2>/dev/null)") == "$1" ]]
}
# wait_for <what> <command...>: retry every 0.25 s until success or $TIMEOUT.
wait_for() {
  local what=$1 deadline=$((SECONDS + TIMEOUT)); shift
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      log "timed out after ${TIMEOUT}s waiting for $what; last lines of the logs:"
      tail -n 5 "$LOGS"/*.log >&2 || true
      return 1
    fi
    sleep 0.25
  done
  log "$what: ok at +$((SECONDS - START)) s"
}
nodes_ready() {
  local n
  n=$(kubectl get nodes -l type=kwok -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' | grep -c '^True$')
  ((n >= NODES))
}
healthy() {
  [[ -f $STATE && -f $KUBECONFIG_FILE ]] || return 1
  local c; for c in "${COMPONENTS[@]}"; do alive "$c" || return 1; done
  [[ $(kubectl get --raw /readyz 2>/dev/null) == ok ]] || return 1
  nodes_ready
}

# apply_crds: the Flink operator CRDs from hack/fetch-crds.sh, Established; records CRD_DIR.
apply_crds() {
  crd_dir=$(bash "$REPO_ROOT/hack/fetch-crds.sh")
  # Server-side apply: the FlinkDeployment CRD (~540 kB) is too big for the client-side
  # last-applied annotation.
  kubectl apply --server-side --force-conflicts -f "$crd_dir" >/dev/null
  # (`kubectl wait` errors out instead of waiting while .status.conditions is still empty)
  crds_established() {
    local want got
    want=$(find "$crd_dir" -maxdepth 1 -name '*.yml' | wc -l)
    got=$(kubectl get -f "$crd_dir" -o jsonpath='{..status.conditions[?(@.type=="Established")].status}' | grep -o True | wc -l)
    ((want > 0 && got == want))
  }
  wait_for "CRDs Established" crds_established
  echo "CRD_DIR=$crd_dir" >> "$STATE"
  log "applied the Flink operator CRDs from $crd_dir"
}

if healthy; then
  log "cluster in $CLUSTER_DIR is up and healthy; reusing it ($(grep '^API_URL=' "$STATE"))"
  if [[ ${CLUSTER_APPLY_CRDS:-0} == 1 ]] && ! grep -q '^CRD_DIR=' "$STATE"; then apply_crds; fi
  exit 0
fi
if [[ -d $PIDS || -f $STATE ]]; then
  log "found a stopped or unhealthy cluster in $CLUSTER_DIR; cleaning it up first"
  CLUSTER_DIR=$CLUSTER_DIR CLUSTER_LOCK_HELD=1 bash "$REPO_ROOT/hack/cluster-down.sh"
fi

for b in "${COMPONENTS[@]}" kubectl; do
  [[ -x $BIN/$b ]] || { log "$BIN/$b missing; running hack/build-tools.sh"; bash "$REPO_ROOT/hack/build-tools.sh"; break; }
done
command -v openssl >/dev/null || die "openssl is needed to generate the cluster's certificates"
mkdir -p "$CLUSTER_DIR" "$PKI" "$PIDS" "$LOGS"
# A failed start stops what it started (logs stay in $LOGS; the next cluster-up cleans up).
on_exit() {
  local rc=$? i c deadline=$((SECONDS + 10))
  ((rc == 0)) && return
  for ((i = ${#COMPONENTS[@]} - 1; i >= 0; i--)); do   # reverse order: etcd last
    alive "${COMPONENTS[i]}" && kill -TERM "$(cat "$PIDS/${COMPONENTS[i]}.pid")" 2>/dev/null
  done
  for c in "${COMPONENTS[@]}"; do
    while alive "$c" && ((SECONDS < deadline)); do sleep 0.2; done
    alive "$c" && kill -KILL "$(cat "$PIDS/$c.pid")" 2>/dev/null
  done
  log "cluster-up failed (rc=$rc); stopped its processes; logs kept in $LOGS"
}
trap on_exit EXIT

# Fresh random free ports on 127.0.0.1 for every start: the Python kubernetes client caches
# discovery per server URL, so a new cluster must never reuse an old URL.
read -r P_ETCD P_PEER P_API P_KCM P_SCHED < <(python3 -c '
import socket
socks = [socket.socket() for _ in range(5)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))')
API_URL="https://127.0.0.1:$P_API"

# start <component> args...: detached (own session), output to logs/<component>.log, PID recorded.
start() {
  local c=$1; shift
  [[ $c == etcd ]] && set -- env -u ETCD_VERSION "$BIN/$c" "$@" || set -- "$BIN/$c" "$@"
  setsid "$@" </dev/null >"$LOGS/$c.log" 2>&1 9>&- &   # 9>&-: daemons must not hold the lock
  echo $! > "$PIDS/$c.pid"
}

# ---------------------------------------------------------------------------------- etcd ----
start etcd --name=studio --data-dir="$CLUSTER_DIR/etcd" \
  --listen-client-urls="http://127.0.0.1:$P_ETCD" --advertise-client-urls="http://127.0.0.1:$P_ETCD" \
  --listen-peer-urls="http://127.0.0.1:$P_PEER" --initial-advertise-peer-urls="http://127.0.0.1:$P_PEER" \
  --initial-cluster="studio=http://127.0.0.1:$P_PEER" --initial-cluster-state=new \
  --unsafe-no-fsync=true --log-level=warn
# (etcd needs no certificates: it starts while openssl works)

# ---------------------------------------------------------------- certificates (openssl) ----
ec_key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
# sign <name> <subject> <extensions>: key + certificate signed by the cluster CA.
sign() {
  ec_key "$PKI/$1.key"
  openssl req -new -key "$PKI/$1.key" -subj "$2" -out "$PKI/$1.csr" 2>/dev/null
  openssl x509 -req -in "$PKI/$1.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" \
    -set_serial "0x$(openssl rand -hex 12)" -days 365 -out "$PKI/$1.crt" \
    -extfile <(printf '%b\n' "$3") 2>/dev/null
  rm -f "$PKI/$1.csr"
}
CLIENT_EXT='basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth'
ec_key "$PKI/ca.key"
openssl req -x509 -new -key "$PKI/ca.key" -subj "/CN=flink-sql-studio-local-ca" -days 3650 \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
  -out "$PKI/ca.crt" 2>/dev/null
sign apiserver "/CN=kube-apiserver" "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,IP:$SERVICE_IP"
sign admin "/O=system:masters/CN=studio-admin" "$CLIENT_EXT"
sign kube-controller-manager "/CN=system:kube-controller-manager" "$CLIENT_EXT"
sign kube-scheduler "/CN=system:kube-scheduler" "$CLIENT_EXT"
sign kwok "/O=system:masters/CN=kwok-controller" "$CLIENT_EXT"
# Service-account token signing key pair (RSA, as kubeadm makes it).
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$PKI/sa.key" 2>/dev/null
openssl pkey -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null
chmod 600 "$PKI"/*.key

# kubeconfig <file> <user cert name>: self-contained (certificates embedded).
kubeconfig() {
  local b64='base64 -w0'
  cat > "$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: flink-sql-studio-local
  cluster:
    server: $API_URL
    certificate-authority-data: $($b64 < "$PKI/ca.crt")
users:
- name: $2
  user:
    client-certificate-data: $($b64 < "$PKI/$2.crt")
    client-key-data: $($b64 < "$PKI/$2.key")
contexts:
- name: flink-sql-studio-local
  context:
    cluster: flink-sql-studio-local
    user: $2
current-context: flink-sql-studio-local
EOF
  chmod 600 "$1"
}
kubeconfig "$CLUSTER_DIR/kube-controller-manager.kubeconfig" kube-controller-manager
kubeconfig "$CLUSTER_DIR/kube-scheduler.kubeconfig" kube-scheduler
kubeconfig "$CLUSTER_DIR/kwok.kubeconfig" kwok

cat > "$STATE" <<EOF
# Written by hack/cluster-up.sh; read by hack/cluster-down.sh and tests/fixtures/cluster.py.
API_URL=$API_URL
ETCD_PORT=$P_ETCD
ETCD_PEER_PORT=$P_PEER
APISERVER_PORT=$P_API
CONTROLLER_MANAGER_PORT=$P_KCM
SCHEDULER_PORT=$P_SCHED
KUBECONFIG=$KUBECONFIG_FILE
KUBERNETES_VERSION=$KUBERNETES_VERSION
EOF

etcd_healthy() { curl -fsS "http://127.0.0.1:$P_ETCD/health" | grep -q '"health":"true"'; }
wait_for "etcd /health" etcd_healthy


# ------------------------------------------------------------------------ kube-apiserver ----
# --advertise-address stays unset (a loopback one is refused): like envtest, the server then
# advertises this machine's own interface address in the `kubernetes` Endpoints. It listens on
# 127.0.0.1 only. --allow-privileged=true so that Pod Security admission, not the blanket
# privileged switch, is what rejects privileged pods in restricted namespaces.
audit_flags=()
if [[ ${CLUSTER_AUDIT_LOG:-0} == 1 ]]; then
  # Metadata only (who, what, which user agent), one line per finished request; the log backend
  # writes each event before the response is sent, so a client's requests are all in the file
  # once the client has exited.
  cat > "$CLUSTER_DIR/audit-policy.yaml" <<'POLICY'
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived, ResponseStarted]
rules:
  - level: Metadata
POLICY
  audit_flags=(--audit-policy-file="$CLUSTER_DIR/audit-policy.yaml" --audit-log-path="$CLUSTER_DIR/audit.log"
               --audit-log-format=json --audit-log-maxsize=0)
fi
start kube-apiserver \
  --bind-address=127.0.0.1 --secure-port="$P_API" \
  --etcd-servers="http://127.0.0.1:$P_ETCD" \
  --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
  --client-ca-file="$PKI/ca.crt" \
  --service-account-issuer=https://kubernetes.default.svc.cluster.local \
  --service-account-key-file="$PKI/sa.pub" --service-account-signing-key-file="$PKI/sa.key" \
  --authorization-mode=Node,RBAC \
  --enable-admission-plugins=NamespaceLifecycle,LimitRanger,ServiceAccount,PodSecurity,ResourceQuota,NodeRestriction \
  --service-cluster-ip-range="$SERVICE_CIDR" \
  --allow-privileged=true \
  --kubelet-preferred-address-types=InternalIP,Hostname \
  --profiling=false --v=1 "${audit_flags[@]}"
apiserver_ready() {
  [[ $(curl -fsS --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key" "$API_URL/readyz") == ok ]]
}
wait_for "kube-apiserver /readyz" apiserver_ready
kubeconfig "$KUBECONFIG_FILE" admin

# ------------------------------------------------ controller manager, scheduler, kwok ----
start kube-controller-manager \
  --kubeconfig="$CLUSTER_DIR/kube-controller-manager.kubeconfig" \
  --authentication-kubeconfig="$CLUSTER_DIR/kube-controller-manager.kubeconfig" \
  --authorization-kubeconfig="$CLUSTER_DIR/kube-controller-manager.kubeconfig" \
  --bind-address=127.0.0.1 --secure-port="$P_KCM" --leader-elect=false \
  --use-service-account-credentials=true \
  --service-account-private-key-file="$PKI/sa.key" --root-ca-file="$PKI/ca.crt" \
  --cluster-signing-cert-file="$PKI/ca.crt" --cluster-signing-key-file="$PKI/ca.key" \
  --controllers='*' --profiling=false --v=1 \
  --enable-hostpath-provisioner=true
start kube-scheduler \
  --kubeconfig="$CLUSTER_DIR/kube-scheduler.kubeconfig" \
  --authentication-kubeconfig="$CLUSTER_DIR/kube-scheduler.kubeconfig" \
  --authorization-kubeconfig="$CLUSTER_DIR/kube-scheduler.kubeconfig" \
  --bind-address=127.0.0.1 --secure-port="$P_SCHED" --leader-elect=false --profiling=false --v=1
# kwok serves nothing (no --server-address): it only watches and writes the API.
start kwok \
  --kubeconfig="$CLUSTER_DIR/kwok.kubeconfig" \
  --config="$REPO_ROOT/hack/kwok/stages.yaml" \
  --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
  --cidr="$POD_CIDR_PREFIX.0.0/16" --node-ip=127.0.1.254 \
  --node-lease-duration-seconds=40

# --------------------------------------------------------------------------- nodes ----------
{
  for i in $(seq 1 "$NODES"); do
    cat <<EOF
---
apiVersion: v1
kind: Node
metadata:
  name: kwok-node-$i
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: "0"
  labels:
    type: kwok
    kubernetes.io/arch: amd64
    kubernetes.io/os: linux
    kubernetes.io/hostname: kwok-node-$i
    node.kubernetes.io/instance-type: kwok
spec:
  podCIDR: $POD_CIDR_PREFIX.$i.0/24
  podCIDRs: [$POD_CIDR_PREFIX.$i.0/24]
status:
  addresses:
  - {type: InternalIP, address: 127.0.1.$i}
  - {type: Hostname, address: kwok-node-$i}
  allocatable: {cpu: "8", memory: 32Gi, pods: "110", ephemeral-storage: 100Gi}
  capacity: {cpu: "8", memory: 32Gi, pods: "110", ephemeral-storage: 100Gi}
EOF
  done
} > "$CLUSTER_DIR/nodes.yaml"
kubectl create -f "$CLUSTER_DIR/nodes.yaml" >/dev/null
# PersistentVolumeClaims bind as on a real cluster with a default StorageClass: the controller
# manager's own host-path provisioner (a test feature of kube-controller-manager) creates the PVs.
kubectl apply -f - >/dev/null <<'EOF'
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: standard
  annotations:
    storageclass.kubernetes.io/is-default-class: "true"
provisioner: kubernetes.io/host-path
reclaimPolicy: Delete
volumeBindingMode: Immediate
EOF

component_healthy() { curl -fsSk "https://127.0.0.1:$1/healthz" | grep -qx ok; }
default_sa() { kubectl get serviceaccount default -n default; }
wait_for "kube-controller-manager /healthz" component_healthy "$P_KCM"
wait_for "kube-scheduler /healthz" component_healthy "$P_SCHED"
wait_for "$NODES kwok nodes Ready" nodes_ready
wait_for "ServiceAccount default/default" default_sa
for c in "${COMPONENTS[@]}"; do alive "$c" || die "$c exited; see $LOGS/$c.log"; done

if [[ ${CLUSTER_APPLY_CRDS:-0} == 1 ]]; then apply_crds; fi

log "cluster up in $((SECONDS - START)) s: $API_URL (kubeconfig: $KUBECONFIG_FILE)"
log "  export KUBECONFIG=$KUBECONFIG_FILE   # nodes: $(kubectl get nodes -o name | tr '\n' ' ')"
