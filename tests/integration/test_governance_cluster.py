"""Proofs 1, 4 and 5 of issue 6 on the local control plane (real kube-apiserver with PodSecurity and
ResourceQuota admission, kube-controller-manager, kwok nodes): tests/fixtures/cluster.py.

1. Every pod the studio's rendered manifests make (pod templates of every workload, and the
   FlinkDeployments' pods as the operator builds them from their podTemplate) is admitted by a
   namespace that enforces `restricted` (server-side dry-run create of each Pod).
4. An oversized tenant is stopped by preflight with the arithmetic and nothing is created; pods
   that get past preflight anyway are refused by quota admission (FailedCreate on the ReplicaSet).
5. The governance role runs with a token bound only to docs/rbac/governance-minimum.yaml
   and fails with a clear message when one permission is removed.
"""
import copy
import json
import time
import uuid

import pytest

from tests.fixtures.rbac import service_account_kubeconfig
from tests.policy import helpers
from tests.versions import REPO_ROOT

pytestmark = [pytest.mark.cluster, pytest.mark.slow]
RBAC_FILE = REPO_ROOT / "docs" / "rbac" / "governance-minimum.yaml"


def _pods_from_rendered(rendered):
    """(source, pod spec) for every pod template, and for FlinkDeployments the pod the operator makes
    from spec.podTemplate (+ jobManager/taskManager podTemplate) with the flink-main-container."""
    out = []
    for obj in rendered.objects:
        kind, meta = obj.get("kind"), obj.get("metadata", {})
        source = "%s/%s/%s" % (kind, meta.get("namespace"), meta.get("name"))
        if kind in helpers.WORKLOAD_KINDS:
            pod = copy.deepcopy(obj["spec"]["template"]["spec"])
            # A StatefulSet's pods get their claim volumes from volumeClaimTemplates.
            for claim in obj["spec"].get("volumeClaimTemplates", []):
                pod.setdefault("volumes", []).append({"name": claim["metadata"]["name"], "persistentVolumeClaim": {
                    "claimName": "%s-%s-0" % (claim["metadata"]["name"], meta.get("name"))}})
            out.append((source, pod))
        elif kind == "CronJob":
            out.append((source, copy.deepcopy(obj["spec"]["jobTemplate"]["spec"]["template"]["spec"])))
        elif kind == "FlinkDeployment":
            spec = obj["spec"]
            base = (spec.get("podTemplate") or {}).get("spec") or {}
            for component in ("jobManager", "taskManager"):
                own = ((spec.get(component) or {}).get("podTemplate") or {}).get("spec") or {}
                pod = copy.deepcopy(base)
                pod.update({k: v for k, v in own.items() if k not in ("containers",)})
                main = {"name": "flink-main-container", "image": spec.get("image", "flink")}
                for template in (base, own):
                    for container in template.get("containers", []):
                        if container.get("name") == "flink-main-container":
                            main.update(copy.deepcopy(container))
                pod["containers"] = [main] + [c for c in own.get("containers", []) + base.get("containers", [])
                                              if c.get("name") != "flink-main-container"]
                pod.pop("volumes", None)
                main.pop("volumeMounts", None)
                out.append(("%s (%s pod)" % (source, component), pod))
    return out


def _restricted_namespace(kubectl, prefix):
    name = "%s-%s" % (prefix, uuid.uuid4().hex[:8])
    manifest = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": {
        "pod-security.kubernetes.io/enforce": "restricted", "pod-security.kubernetes.io/enforce-version": "latest",
        "flinksql.studio/test": "true"}}}
    result = kubectl("apply", "-f", "-", input=json.dumps(manifest))
    assert result.returncode == 0, result.stderr
    return name


def test_every_rendered_pod_is_admitted_under_restricted(kubectl):
    rendered = helpers.render_studio()
    pods = _pods_from_rendered(rendered)
    assert any("FlinkDeployment" in s for s, _ in pods) and any("sql-gateway" in s for s, _ in pods), [
        s for s, _ in pods]
    namespace = _restricted_namespace(kubectl, "gov-psa")
    rejected = []
    try:
        for index, (source, spec) in enumerate(pods):
            spec.pop("serviceAccountName", None)  # admission of the pod, not the SA's existence
            spec["automountServiceAccountToken"] = False
            pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "pod-%d" % index, "namespace": namespace},
                   "spec": spec}
            result = kubectl("create", "--dry-run=server", "-f", "-", input=json.dumps(pod))
            if result.returncode != 0:
                rejected.append("%s: %s" % (source, result.stderr.strip()))
    finally:
        kubectl("delete", "namespace", namespace, "--wait=false")
    print("checked %d pods under restricted" % len(pods))
    assert not rejected, "pods refused by Pod Security (restricted):\n" + "\n".join(rejected)


def _governance(kubeconfig, tenants, *args, **extra):
    extra_vars = {"studio_kubeconfig": kubeconfig, "studio_tenants": tenants,
                  "governance_apiserver_cidrs": [helpers.APISERVER_CIDR]}
    extra_vars.update(extra)
    return helpers.run_playbook(helpers.governance_playbook(), extra_vars, *args)


def test_preflight_stops_an_oversized_tenant_and_creates_nothing(kubeconfig, kubectl):
    name = "big%s" % uuid.uuid4().hex[:6]
    tenant = {"name": name, "quota": {"requests_cpu": "2", "requests_memory": "4Gi", "pods": 3}}
    result = _governance(kubeconfig, [tenant])
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert ("studio_tenants[0].quota.requests_cpu: 2 does not fit what the tenant's pods request: JobManager 1 x "
            "(1000m, 1600Mi) + TaskManager 2 x (1000m, 2Gi) + SQL Gateway 1 x (500m, 1Gi) = 3500m") in output, output
    assert "studio_tenants[0].quota.pods: 3 does not fit the tenant's 4 pods" in output, output
    got = kubectl("get", "namespace", "flink-studio-%s" % name)
    assert got.returncode != 0 and "NotFound" in got.stderr, "preflight wrote to the cluster: %s" % got.stdout


def test_quota_admission_refuses_pods_past_preflight(kubeconfig, kubectl):
    name = "q%s" % uuid.uuid4().hex[:6]
    namespace = "flink-studio-%s" % name
    result = _governance(kubeconfig, [{"name": name}])
    assert result.returncode == 0, result.stdout[-4000:]
    try:
        quota = json.loads(kubectl("get", "resourcequota", "%s-quota" % name, "-n", namespace, "-o", "json").stdout)
        assert quota["spec"]["hard"]["requests.cpu"] == "8" and quota["spec"]["hard"]["services.nodeports"] == "0"
        labels = json.loads(kubectl("get", "namespace", namespace, "-o", "json").stdout)["metadata"]["labels"]
        assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
        # A JobManager-like Deployment as the operator would make it, too big for the 8-CPU quota.
        security = {"runAsNonRoot": True, "runAsUser": 9999, "allowPrivilegeEscalation": False,
                    "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}}
        deployment = {"apiVersion": "apps/v1", "kind": "Deployment",
                      "metadata": {"name": name, "namespace": namespace},
                      "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name, "component": "jobmanager"}},
                               "template": {"metadata": {"labels": {"app": name, "component": "jobmanager"}},
                                            "spec": {"containers": [{
                                                "name": "flink-main-container", "image": "flink:2.2.1-java17",
                                                "securityContext": security,
                                                "resources": {"requests": {"cpu": "12", "memory": "2Gi"},
                                                              "limits": {"cpu": "12", "memory": "2Gi"}}}]}}}}
        created = kubectl("apply", "-f", "-", input=json.dumps(deployment))
        assert created.returncode == 0, created.stderr
        deadline, message = time.time() + 60, ""
        while time.time() < deadline and "exceeded quota" not in message:
            events = json.loads(kubectl("get", "events", "-n", namespace, "-o", "json",
                                        "--field-selector", "reason=FailedCreate").stdout or "{}")
            message = " ".join(e.get("message", "") for e in events.get("items", [])
                               if e["involvedObject"]["kind"] == "ReplicaSet")
            time.sleep(1)
        assert "exceeded quota: %s-quota" % name in message, "no FailedCreate quota event: %r" % message
        assert "exceeded quota" in message and "requests.cpu=12" in message, message
    finally:
        kubectl("delete", "namespace", namespace, "--wait=false")


def _rbac_kubeconfig(kubectl, kubeconfig, tmp_path, drop=None):
    """A ServiceAccount bound only to docs/rbac/governance-minimum.yaml (minus one rule's verb), and a token kubeconfig."""
    return service_account_kubeconfig(kubectl, kubeconfig, tmp_path, RBAC_FILE, drop=drop)


def test_governance_runs_with_only_the_documented_permissions(kubeconfig, kubectl, tmp_path):
    path, cleanup = _rbac_kubeconfig(kubectl, kubeconfig, tmp_path)
    name = "r%s" % uuid.uuid4().hex[:6]
    try:
        # Empty CIDRs: the role reads the API server's EndpointSlices too (the Role in `default`).
        result = _governance(path, [{"name": name}], governance_apiserver_cidrs=[])
        assert result.returncode == 0, result.stdout[-5000:]
        policies = kubectl("get", "networkpolicies", "-n", "flink-studio-%s" % name, "-o", "name")
        assert "networkpolicy.networking.k8s.io/%s-sql-gateway" % name in policies.stdout
    finally:
        for kind, obj in cleanup + [("namespace", "flink-studio-%s" % name)]:
            kubectl("delete", kind, obj, "--wait=false")


def test_governance_fails_clearly_without_one_permission(kubeconfig, kubectl, tmp_path):
    path, cleanup = _rbac_kubeconfig(kubectl, kubeconfig, tmp_path, drop=("networkpolicies", "patch"))
    name = "r%s" % uuid.uuid4().hex[:6]
    try:
        result = _governance(path, [{"name": name}])
        output = result.stdout + result.stderr
        assert result.returncode != 0
        assert "Apply the objects of governance-network-policies" in output, output[-3000:]
        assert "networkpolicies" in output and "forbidden" in output.lower(), output[-3000:]
        assert "cannot patch resource" in output, output[-3000:]
    finally:
        for kind, obj in cleanup + [("namespace", "flink-studio-%s" % name)]:
            kubectl("delete", kind, obj, "--wait=false")
