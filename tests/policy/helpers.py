"""Helpers of the governance proofs: render the studio's manifests, derive the pods they make,
run network-config-analyzer and checkov on them (tests/integration/test_governance_*.py).

Rendering goes through site.yml with ``studio_render_only=true`` (every role's real manifests).
When site.yml cannot render yet, ``render_studio`` falls back to the governance role alone plus
pods made from docs/CONVENTIONS.md labels, and says so in ``Rendered.source``; a dedicated test
fails on that fallback, so it is never silent.
"""
import copy
import functools
import json
import os
import re
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from tests.versions import REPO_ROOT

VENV_BIN = REPO_ROOT / ".venv" / "bin"
SCAN_ROOT = REPO_ROOT / ".venv-scan"
POLICY_DIR = Path(__file__).resolve().parent
# Proof inputs: two tenants (cross-tenant isolation shows), a stand-in API server address.
TENANTS = ("analytics", "marketing")
APISERVER_CIDR = "10.0.0.10/32"
APISERVER_IP = "10.0.0.10"
STUDIO_NAMESPACE = "flink-studio"
OPERATOR_NAMESPACE = "flink-operator"
WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}


@dataclass
class Rendered:
    directory: Path
    source: str                 # "site.yml" or "governance role + conventions (site.yml failed: ...)"
    site_error: str = ""
    objects: list = field(default_factory=list)

    def of_kind(self, kind):
        return [o for o in self.objects if o.get("kind") == kind]


def tenant_vars(tenants=TENANTS):
    return {
        "studio_tenants": [{"name": t} for t in tenants],
        "studio_namespace": STUDIO_NAMESPACE,
        "studio_operator_namespace": OPERATOR_NAMESPACE,
        "governance_apiserver_cidrs": [APISERVER_CIDR],
    }


def ansible_env():
    env = dict(os.environ)
    env["PATH"] = "%s:%s:%s" % (VENV_BIN, REPO_ROOT / ".cache" / "bin", env.get("PATH", ""))
    env["ANSIBLE_CONFIG"] = str(REPO_ROOT / "ansible.cfg")
    env.setdefault("ANSIBLE_NOCOLOR", "1")
    return env


def run_playbook(playbook, extra_vars, *args, timeout=600, env=None):
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(extra_vars, handle)
    try:
        return subprocess.run(
            [str(VENV_BIN / "ansible-playbook"), "-i", str(REPO_ROOT / "inventories" / "local" / "hosts.yml"),
             str(playbook), "-e", "@" + handle.name, *args],
            cwd=REPO_ROOT, env=env or ansible_env(), capture_output=True, text=True, timeout=timeout, check=False)
    finally:
        os.unlink(handle.name)


def load_dir(directory):
    objects = []
    for path in sorted(Path(directory).rglob("*.y*ml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if isinstance(doc, dict) and doc.get("kind"):
                doc.setdefault("metadata", {}).setdefault("annotations", {})
                doc["metadata"]["annotations"]["policy-test/file"] = str(path.relative_to(directory))
                objects.append(doc)
    return objects


def governance_playbook():
    return POLICY_DIR / "governance-only.yml"


@functools.lru_cache(maxsize=None)
def render_studio(tenants=TENANTS, skip_tags="operator"):
    """Render every role's manifests once per test session. The operator role is skipped by default:
    its chart needs helm and network access and renders no pod the policies govern."""
    from tests.fixtures.render import standin_chart

    # The local inventory points operator_chart_path at the assembled stand-in chart, and site.yml's
    # preflight checks that it exists even when the operator role itself is skipped.
    standin_chart()
    directory = Path(tempfile.mkdtemp(prefix="studio-render-"))
    extra = dict(tenant_vars(tenants), studio_render_only=True, studio_render_dir=str(directory / "site"))
    args = ["--skip-tags", skip_tags] if skip_tags else []
    result = run_playbook(REPO_ROOT / "site.yml", extra, *args)
    if result.returncode == 0:
        return Rendered(directory / "site", "site.yml", objects=load_dir(directory / "site"))
    tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-25:])
    extra["studio_render_dir"] = str(directory / "governance")
    fallback = run_playbook(governance_playbook(), extra)
    assert fallback.returncode == 0, "governance role failed to render:\n" + fallback.stdout[-4000:]
    rendered = Rendered(directory / "governance", "governance role + conventions", site_error=tail,
                        objects=load_dir(directory / "governance"))
    rendered.objects.extend(convention_workloads(tenants))
    return rendered


def _labels(**extra):
    labels = {"app.kubernetes.io/part-of": "flink-sql-studio", "app.kubernetes.io/managed-by": "flinksql.studio"}
    labels.update(extra)
    return labels


def convention_workloads(tenants):
    """Workloads as docs/CONVENTIONS.md names them, for when site.yml cannot render yet."""
    def deployment(name, namespace, labels):
        return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": namespace},
                "spec": {"replicas": 1, "template": {"metadata": {"labels": labels}}}}
    objs = [deployment("hue", STUDIO_NAMESPACE, _labels(**{"app.kubernetes.io/name": "hue",
                                                           "app.kubernetes.io/instance": "studio"})),
            deployment("postgresql", STUDIO_NAMESPACE, _labels(**{"app.kubernetes.io/name": "postgresql",
                                                                  "app.kubernetes.io/instance": "studio"}))]
    for t in tenants:
        ns = "%s-%s" % (STUDIO_NAMESPACE, t)
        objs.append(deployment("%s-sql-gateway" % t, ns, _labels(**{
            "app.kubernetes.io/name": "sql-gateway", "app.kubernetes.io/instance": t, "flinksql.studio/tenant": t})))
        objs.append({"apiVersion": "flink.apache.org/v1beta1", "kind": "FlinkDeployment",
                     "metadata": {"name": t, "namespace": ns},
                     "spec": {"mode": "standalone", "jobManager": {"replicas": 1}, "taskManager": {"replicas": 2}}})
    return objs


def flink_pods(flinkdeployment):
    """The pods the operator makes for a session FlinkDeployment (FACTS section 5 labels)."""
    meta, spec = flinkdeployment["metadata"], flinkdeployment.get("spec", {})
    name, ns = meta["name"], meta["namespace"]
    mode = spec.get("mode", "native")
    kind = "flink-standalone-kubernetes" if mode == "standalone" else "flink-native-kubernetes"
    template_labels = ((spec.get("podTemplate") or {}).get("metadata") or {}).get("labels") or {}
    pods = []
    for component, count in (("jobmanager", (spec.get("jobManager") or {}).get("replicas", 1)),
                              ("taskmanager", (spec.get("taskManager") or {}).get("replicas") or 2)):
        for index in range(count):
            labels = dict(template_labels, app=name, component=component, type=kind)
            pods.append(pod("%s-%s-%d" % (name, component, index), ns, labels))
    return pods


def pod(name, namespace, labels):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace,
                                                           "labels": labels},
            "spec": {"containers": [{"name": "main", "image": "example.invalid/x"}]}}


def pods_of(rendered):
    """One pod per replica of every rendered workload, plus the operator-made Flink pods."""
    pods = []
    for obj in rendered.objects:
        kind, meta = obj.get("kind"), obj.get("metadata", {})
        if kind in WORKLOAD_KINDS:
            template = obj.get("spec", {}).get("template", {})
            replicas = obj.get("spec", {}).get("replicas", 1) or 1
            for index in range(min(replicas, 2)):
                pods.append(pod("%s-%s-%d" % (kind.lower(), meta["name"], index), meta.get("namespace"),
                                dict((template.get("metadata") or {}).get("labels") or {})))
        elif kind == "CronJob":
            template = obj["spec"]["jobTemplate"]["spec"]["template"]
            pods.append(pod("cronjob-%s-0" % meta["name"], meta.get("namespace"),
                            dict((template.get("metadata") or {}).get("labels") or {})))
        elif kind == "Pod":
            pods.append(pod(meta["name"], meta.get("namespace"), dict(meta.get("labels") or {})))
        elif kind == "FlinkDeployment":
            pods.extend(flink_pods(obj))
    return pods


def governed_namespaces(tenants=TENANTS):
    return {STUDIO_NAMESPACE} | {"%s-%s" % (STUDIO_NAMESPACE, t) for t in tenants}


def environment_pods(tenants=TENANTS):
    text = (POLICY_DIR / "environment.yaml").read_text()
    text = text.replace("{{ operator_namespace }}", OPERATOR_NAMESPACE).replace("{{ first_tenant }}", tenants[0])
    pods = [pod(p["metadata"]["name"], p["metadata"]["namespace"], p["metadata"]["labels"])
            for p in yaml.safe_load(text)]
    for ns in sorted(governed_namespaces(tenants)):
        pods.append(pod("intruder-0", ns, {"policy-test/role": "intruder"}))
    for t in tenants:
        # Looks like Hue, but sits in a tenant namespace: must not reach any gateway.
        pods.append(pod("fake-hue-0", "%s-%s" % (STUDIO_NAMESPACE, t),
                        {"app.kubernetes.io/name": "hue", "policy-test/role": "intruder"}))
    return pods


def role_of(pod_obj):
    """Flow-table row name of a pod."""
    labels = pod_obj["metadata"].get("labels") or {}
    ns = pod_obj["metadata"]["namespace"]
    if "policy-test/role" in labels:
        return labels["policy-test/role"]
    name = labels.get("app.kubernetes.io/name")
    if labels.get("component") in ("jobmanager", "taskmanager") and "app" in labels:
        return "%s[%s]" % (labels["component"], labels["app"])
    if name in ("hue", "postgresql") and ns == STUDIO_NAMESPACE:
        return name
    if name == "sql-gateway":
        return "gateway[%s]" % ns[len(STUDIO_NAMESPACE) + 1:]
    return "other:%s/%s" % (ns, pod_obj["metadata"]["name"])


def expected_flows(roles, tenants=TENANTS, smoke_path=True):
    """The flow table of roles/governance/README.md: {(src, dst): {"PROTO/ports", ...}}."""
    flink = "TCP/6121-6125"
    flows = {("ingress", "hue"): {"TCP/8888"}, ("hue", "postgresql"): {"TCP/5432"}}
    for t in tenants:
        gw, jm, tm = "gateway[%s]" % t, "jobmanager[%s]" % t, "taskmanager[%s]" % t
        flows[("hue", gw)] = {"TCP/8083"}
        if smoke_path:
            flows[("apiserver", gw)] = {"TCP/8083"}
        flows[(gw, jm)] = {"TCP/6124", "TCP/8081"}
        flows[("operator", jm)] = {"TCP/8081"}
        flows[(jm, tm)] = {flink}
        flows[(tm, jm)] = {flink}
        flows[(tm, tm)] = {flink}
        flows[(jm, "apiserver")] = {"TCP/443", "TCP/6443"}
        flows[(tm, "apiserver")] = {"TCP/443", "TCP/6443"}
    for role in roles:
        flows[(role, "dns")] = {"TCP/53", "UDP/53"}
    return flows


_CONN_RE = re.compile(r"\{protocols:(?P<protos>[A-Z, ]+?)(?:,dst_ports:(?P<ports>[0-9,\-]+))?\}")


def parse_connection(text):
    text = text.strip()
    if text == "All connections":
        return {"ALL"}
    conns = set()
    for match in _CONN_RE.finditer(text):
        protos = [p.strip() for p in match.group("protos").split(",") if p.strip()]
        ports = (match.group("ports") or "*").split(",")
        conns.update("%s/%s" % (proto, port) for proto in protos for port in ports)
    if not conns:
        raise ValueError("cannot parse the analyzer's connection %r" % text)
    return conns


def run_nca(policy_dir, resources, workdir):
    """Connectivity of ``policy_dir`` over ``resources`` (pods and namespaces) as
    [(src, dst, {conn})] where src/dst are "ns/pod" or an address (range)."""
    nca = SCAN_ROOT / "nca" / "bin" / "nca"
    resource_file = Path(workdir) / "resources.yaml"
    resource_file.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": resources}))
    result = subprocess.run(
        [str(nca), "--connectivity", str(policy_dir), "--resource_list", str(resource_file),
         "--output_format", "txt_no_fw_rules"],
        capture_output=True, text=True, timeout=300, check=False)
    if result.returncode not in (0,):
        raise AssertionError("nca failed (rc=%d):\n%s\n%s" % (result.returncode, result.stdout, result.stderr))
    rows = []
    for line in result.stdout.splitlines():
        if " => " not in line or " : " not in line:
            continue
        pair, _, conn = line.partition(" : ")
        src, _, dst = pair.partition(" => ")
        rows.append((src.strip().replace("[Pod]", ""), dst.strip().replace("[Pod]", ""), parse_connection(conn)))
    return rows, result.stdout


def namespace_objects(pods, rendered_namespaces=()):
    """Namespaces of the pods with kubernetes.io/metadata.name, merged with rendered labels."""
    rendered = {n["metadata"]["name"]: n["metadata"].get("labels") or {} for n in rendered_namespaces}
    names = sorted({p["metadata"]["namespace"] for p in pods} | set(rendered))
    return [{"apiVersion": "v1", "kind": "Namespace",
             "metadata": {"name": n, "labels": dict(rendered.get(n, {}), **{"kubernetes.io/metadata.name": n})}}
            for n in names]


def policy_dir_of(rendered, workdir):
    """A directory holding only the rendered NetworkPolicies (the analyzer reads directories)."""
    target = Path(workdir) / "policies"
    target.mkdir(parents=True, exist_ok=True)
    for index, obj in enumerate(rendered.of_kind("NetworkPolicy")):
        clean = copy.deepcopy(obj)
        clean["metadata"].get("annotations", {}).pop("policy-test/file", None)
        (target / ("%03d-%s-%s.yaml" % (index, obj["metadata"]["namespace"], obj["metadata"]["name"]))).write_text(
            yaml.safe_dump(clean))
    return target
