"""Proof 2 of issue 6: network-config-analyzer on the rendered NetworkPolicies and the pods the
studio makes reports exactly the flow table of roles/governance/README.md, and nothing but Hue
(plus the API server's address, the smoke-test path) reaches a SQL gateway's port 8083.

Runs without a cluster: the manifests come from `site.yml -e studio_render_only=true`, the pods from
their pod templates and from the FlinkDeployments (operator-made JobManager/TaskManager pods), the
rest of the world from tests/policy/environment.yaml. Needs hack/scan-venv.sh (nca).
"""
import subprocess

import pytest

from tests.policy import helpers
from tests.versions import REPO_ROOT

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def nca_ready():
    result = subprocess.run(["bash", str(REPO_ROOT / "hack" / "scan-venv.sh"), "nca"],
                            capture_output=True, text=True, timeout=900, check=False)
    assert result.returncode == 0, "hack/scan-venv.sh nca failed:\n" + result.stderr


@pytest.fixture(scope="module")
def analysis(nca_ready, tmp_path_factory):
    rendered = helpers.render_studio()
    workdir = tmp_path_factory.mktemp("nca")
    pods = helpers.pods_of(rendered) + helpers.environment_pods()
    names = {"%s/%s" % (p["metadata"]["namespace"], p["metadata"]["name"]): p for p in pods}
    assert len(names) == len(pods), "two pods share a name: %s" % sorted(names)
    resources = helpers.namespace_objects(pods, rendered.of_kind("Namespace")) + pods
    rows, raw = helpers.run_nca(helpers.policy_dir_of(rendered, workdir), resources, workdir)
    governed = helpers.governed_namespaces()

    def role(endpoint):
        if endpoint in names:
            return helpers.role_of(names[endpoint])
        return "apiserver" if endpoint == helpers.APISERVER_IP else "ip:" + endpoint

    def is_governed(endpoint):
        return endpoint in names and names[endpoint]["metadata"]["namespace"] in governed

    flows = {}
    for src, dst, conns in rows:
        if not (is_governed(src) or is_governed(dst)):
            continue  # traffic among pods outside the studio is not ours to govern
        flows.setdefault((role(src), role(dst)), []).append((src, dst, frozenset(conns)))
    governed_roles = sorted({helpers.role_of(p) for n, p in names.items() if is_governed(n)})
    return {"rendered": rendered, "flows": flows, "raw": raw, "roles": governed_roles, "pods": names}


def _table(flows):
    return "\n".join("  %-28s -> %-28s %s" % (s, d, sorted(set().union(*(c for _, _, c in v))))
                     for (s, d), v in sorted(flows.items()))


def test_policy_proof_uses_the_real_rendered_manifests(analysis):
    rendered = analysis["rendered"]
    assert rendered.source == "site.yml", (
        "site.yml -e studio_render_only=true failed, so the policy proof ran on the governance role plus "
        "pods made from docs/CONVENTIONS.md instead of the roles' real manifests. site.yml said:\n"
        + rendered.site_error)


def test_every_governed_pod_is_one_the_flow_table_knows(analysis):
    unknown = [r for r in analysis["roles"] if r.startswith("other:")]
    # Unknown pods are allowed (they get DNS only), but list them so that a reviewer sees them.
    print("governed pods outside the flow table (DNS only):", unknown)
    for expected in ("hue", "postgresql", "gateway[analytics]", "jobmanager[analytics]",
                     "taskmanager[analytics]", "gateway[marketing]"):
        assert expected in analysis["roles"], "no pod of %s was rendered; roles seen: %s" % (
            expected, analysis["roles"])


def test_the_analyzer_reports_exactly_the_flow_table(analysis):
    flows = analysis["flows"]
    roles_present = set(analysis["roles"])
    expected = {k: v for k, v in helpers.expected_flows(analysis["roles"]).items()
                if all(r in roles_present or r in ("apiserver", "dns", "ingress", "operator") for r in k)}
    extra, missing, wrong = [], [], []
    for pair, observations in flows.items():
        if pair not in expected:
            extra.extend(observations)
            continue
        for src, dst, conns in observations:
            if set(conns) != expected[pair]:
                wrong.append((src, dst, sorted(conns), sorted(expected[pair])))
    missing = sorted(set(expected) - set(flows))
    message = "analyzer flow table:\n%s\n" % _table(flows)
    assert not extra, message + "connections the flow table does not allow:\n%s" % "\n".join(
        "  %s -> %s %s" % (s, d, sorted(c)) for s, d, c in extra)
    assert not wrong, message + "connections with other ports than the flow table's:\n%s" % "\n".join(
        "  %s -> %s %s, expected %s" % w for w in wrong)
    assert not missing, message + "flows of the table the policies do not allow: %s" % missing


def test_nothing_but_hue_and_the_apiserver_proxy_reaches_a_gateway(analysis):
    reaching = set()
    for (src_role, dst_role), observations in analysis["flows"].items():
        if not dst_role.startswith("gateway["):
            continue
        for src, dst, conns in observations:
            if "ALL" in conns or "TCP/8083" in conns or any(c.startswith("TCP/") and "-" in c for c in conns):
                reaching.add((src, src_role, dst))
    sources = {role for _, role, _ in reaching}
    assert sources <= {"hue", "apiserver"}, "gateway port 8083 is reachable from %s" % sorted(reaching)
    hue_pods = {n for n, p in analysis["pods"].items() if helpers.role_of(p) == "hue"}
    gateways = {n for n, p in analysis["pods"].items() if helpers.role_of(p).startswith("gateway[")}
    for gateway in gateways:
        assert {s for s, r, d in reaching if d == gateway and r == "hue"} == hue_pods, (
            "not every Hue pod reaches %s" % gateway)
        assert any(r == "apiserver" and d == gateway for _, r, d in reaching), (
            "the smoke-test path (API server address %s -> %s:8083) is missing" % (helpers.APISERVER_CIDR, gateway))
