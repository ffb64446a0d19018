"""Day 2 on the local control plane (a private one: tests/fixtures/studio.py): upgrades, a new
tenant, and the fault tests of issue 7. Tests run in file order and build on each other's state
(every site.yml run costs tens of seconds, so converges are shared):

1. version N: studio_flink_image flink:2.2.0-java17, tenant alpha;
2. faults that need only one role (--tags): the gateway smoke step against an unreachable gateway,
   and an apply that meets a 409 Conflict (injected by a TLS proxy in front of the API server);
3. preflight refuses a Flink version Hue cannot talk to, before anything is written;
4. N -> N+1 (flink:2.2.1-java17): only the session cluster and the gateway change;
5. a second tenant: only that tenant's objects and Hue's interpreter list change;
6. a FlinkDeployment driven to ERROR (stand-in annotation): site.yml fails within 10 s of the error
   with the operator's message;
7. the API server killed in the middle of a converge and restarted: the re-run converges, with
   no duplicate and no orphaned object.

"Changed" for an object means: its metadata.generation moved (spec change) or, for kinds without a
generation, its spec/data/rules changed. Object identity is (kind, namespace, name) over every kind
the roles render, selected by app.kubernetes.io/managed-by=flinksql.studio.
"""
import datetime
import json
import re
import socket
import time
from pathlib import Path

import pytest
import yaml

from tests.fixtures.faults import ConflictProxy
from tests.fixtures.studio import studio_cluster, tenant  # noqa: F401 - fixture

# A converge takes minutes on a loaded 2-core machine; the fixture converges count against the first test.
pytestmark = [pytest.mark.cluster, pytest.mark.slow, pytest.mark.timeout(1800)]
IMAGE_N, IMAGE_N1 = "flink:2.2.0-java17", "flink:2.2.1-java17"
ALPHA = tenant("alpha")
BETA = tenant("beta")
GAMMA = tenant("gamma")
DELTA = tenant("delta")


def _fingerprint(objects):
    # generation for kinds that have one; else a hash of spec/data/rules (not resourceVersion, which
    # status writes move, e.g. a ResourceQuota's status.used when pods restart)
    return {key: (value["generation"] if value["generation"] is not None else value["spec_hash"])
            for key, value in objects.items()}


def _changed(before, after):
    fb, fa = _fingerprint(before), _fingerprint(after)
    return {key for key in fb.keys() & fa.keys() if fb[key] != fa[key] or before[key]["uid"] != after[key]["uid"]}


def _site(cluster, *args, tenants, image=IMAGE_N, **extra):
    return cluster.playbook("site.yml", *args, extra_vars={"studio_tenants": tenants, "studio_flink_image": image,
                                                           **extra})


@pytest.fixture(scope="module")
def version_n(studio_cluster):  # noqa: F811
    run = _site(studio_cluster, tenants=[ALPHA])
    assert run.returncode == 0, run.describe()
    return studio_cluster


# ----------------------------------------------------------------------- single-role faults ---
def test_unreachable_gateway_fails_the_smoke_step_naming_the_address(version_n):
    # Through the API server's service proxy (the default): kwok pods serve nothing.
    run = _site(version_n, "--tags", "sql_gateway", tenants=[ALPHA], sql_gateway_smoke=True,
                sql_gateway_smoke_timeout=20)
    assert run.returncode != 0, run.describe()
    assert "alpha-sql-gateway" in run.output and "8083" in run.output, run.describe()
    assert version_n.state["API_URL"] in run.output, "the message must say it went through the API server"
    # Directly at a URL where nothing listens.
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    sock.close()
    run = _site(version_n, "--tags", "sql_gateway", tenants=[ALPHA], sql_gateway_smoke=True,
                sql_gateway_smoke_urls={"alpha": url}, sql_gateway_smoke_timeout=20)
    assert run.returncode != 0 and url in run.output, run.describe()


def test_apply_meeting_a_409_conflict_is_retried_and_converges(version_n):
    proxy = ConflictProxy(version_n.kubeconfig, version_n.cluster_dir / "pki", "PATCH",
                          r"/namespaces/flink-studio-alpha/deployments/alpha-sql-gateway", count=1, workdir=version_n.dir)
    try:
        # kubeconfig through the proxy (extra vars beat the inventory's studio_kubeconfig)
        run = version_n.playbook("site.yml", "--tags", "sql_gateway", kubeconfig=proxy.kubeconfig,
                                 extra_vars={"studio_tenants": [ALPHA], "studio_flink_image": IMAGE_N})
    finally:
        proxy.close()
    assert proxy.injected, "the proxy never saw the gateway Deployment's apply (test setup problem)"
    assert run.returncode == 0, "an apply that met one 409 Conflict was not retried:\n" + run.describe()


# ----------------------------------------------------------------------------- upgrades ------
def test_preflight_refuses_a_flink_version_hue_cannot_use(version_n):
    before = version_n.managed_objects()
    run = _site(version_n, tenants=[ALPHA], studio_flink_version="v1_19")
    assert run.returncode != 0 and "v1_20" in run.output, run.describe()
    assert _fingerprint(version_n.managed_objects()) == _fingerprint(before), "preflight wrote something"


def test_upgrade_n_to_n_plus_1_changes_only_the_session_cluster_and_gateway(version_n):
    before = version_n.managed_objects()
    run = _site(version_n, tenants=[ALPHA], image=IMAGE_N1)
    assert run.returncode == 0, run.describe()
    after = version_n.managed_objects()
    assert after.keys() == before.keys(), f"objects appeared/disappeared: {sorted(after.keys() ^ before.keys())}"
    changed = _changed(before, after)
    expected = {("FlinkDeployment", "flink-studio-alpha", "alpha"), ("Deployment", "flink-studio-alpha", "alpha-sql-gateway")}
    assert changed == expected, f"changed: {sorted(changed)}"
    fd = version_n.kubectl_json("get", "flinkdeployment", "alpha", "-n", "flink-studio-alpha")
    assert fd["spec"]["image"] == IMAGE_N1
    assert re.search(r"WARNING: the spec of .*flink-studio-alpha.* changes", run.output), \
        "no warning that the session cluster restarts:\n" + run.describe()


def test_adding_a_tenant_changes_only_that_tenant_and_hues_interpreter_list(version_n):
    before = version_n.managed_objects()
    run = _site(version_n, tenants=[ALPHA, BETA], image=IMAGE_N1)
    assert run.returncode == 0, run.describe()
    after = version_n.managed_objects()
    assert before.keys() <= after.keys()
    new = after.keys() - before.keys()
    not_beta = sorted(k for k in new if k[1] != "flink-studio-beta" and k[2] != "flink-studio-beta"
                      and after[k]["labels"].get("flinksql.studio/tenant") != "beta")
    assert not not_beta, f"new objects that are not tenant beta's: {not_beta}"
    assert ("FlinkDeployment", "flink-studio-beta", "beta") in new
    changed = _changed(before, after)
    # Hue's interpreter list (its ini ConfigMap, the Deployment rolling for it) and Hue's egress
    # NetworkPolicy, which must now admit the new gateway.
    hue = {k for k in changed if k[1] == "flink-studio" and (
        (k[0] in ("ConfigMap", "Deployment", "Secret") and k[2].startswith("hue")) or k == ("NetworkPolicy", "flink-studio", "studio-hue"))}
    assert changed - hue == set(), f"pre-existing objects changed besides Hue's interpreter list: {sorted(changed - hue)}"
    config = version_n.kubectl_json("get", "configmaps", "-n", "flink-studio", "-l", "app.kubernetes.io/name=hue")
    text = json.dumps([c.get("data", {}) for c in config["items"]])
    assert "beta-sql-gateway.flink-studio-beta" in text, "Hue has no interpreter for the new tenant"
    assert any(k[0] == "ConfigMap" for k in hue), "Hue's configuration did not change"


# ------------------------------------------------------------------------------- faults ------
def test_flinkdeployment_in_error_fails_site_within_10s_with_the_operators_message(version_n):
    ns = "flink-studio-gamma"
    version_n.kubectl("create", "namespace", ns)
    version_n.kubectl("apply", "--server-side", "--field-manager=test-setup", "-f", "-", input=yaml.safe_dump({
        "apiVersion": "flink.apache.org/v1beta1", "kind": "FlinkDeployment",
        "metadata": {"name": "gamma", "namespace": ns, "annotations": {"standin.flinksql.studio/fail": "jobmanager-error"}},
        "spec": {"image": IMAGE_N1, "flinkVersion": "v2_2", "serviceAccount": "flink",
                 "jobManager": {"resource": {"cpu": 1, "memory": "1024m"}},
                 "taskManager": {"resource": {"cpu": 1, "memory": "1024m"}}}}))
    run = _site(version_n, tenants=[ALPHA, BETA, GAMMA], image=IMAGE_N1)
    ended = datetime.datetime.now(datetime.timezone.utc)
    assert run.returncode != 0, run.describe()
    assert "back-off 5m0s restarting failed container" in run.output, "the operator's message is missing:\n" + run.describe()
    # When the ERROR status of the generation this run applied was written: the time of the stand-in's
    # last write to the status subresource (managedFields), one-second resolution.
    fd = version_n.kubectl_json("get", "flinkdeployment", "gamma", "-n", ns, "--show-managed-fields")
    assert fd["status"].get("jobManagerDeploymentStatus") == "ERROR", fd["status"]
    assert fd["status"].get("observedGeneration") == fd["metadata"]["generation"], "the run's spec was never reconciled"
    times = [m["time"] for m in fd["metadata"]["managedFields"] if m.get("subresource") == "status"]
    error_at = max(datetime.datetime.fromisoformat(t.replace("Z", "+00:00")) for t in times)
    # Event timestamps have one-second resolution.
    assert (ended - error_at).total_seconds() <= 11, f"site.yml failed {(ended - error_at).total_seconds():.1f}s after the error"
    # Clean up gamma for the tests below (the teardown module's unlisted-tenant sweep would also find it).
    version_n.kubectl("delete", "namespace", ns, "--wait=false")


def _as_tenant(objects, source, target):
    """The keys a new tenant `target` gets, derived from tenant `source`'s keys."""
    keys = set()
    for kind, namespace, name in objects:
        if f"-{source}" in namespace or name == f"flink-studio-{source}" or name.startswith(f"{source}-") \
                or name == source:
            keys.add((kind, namespace.replace(f"-{source}", f"-{target}"),
                      name.replace(f"flink-studio-{source}", f"flink-studio-{target}").replace(source, target, 1)
                      if name.startswith((source, f"flink-studio-{source}")) else name))
    return keys


def test_apiserver_stopped_mid_converge_then_rerun_converges_without_duplicates_or_orphans(version_n):
    tenants = [ALPHA, BETA, DELTA]
    before = set(version_n.managed_objects())
    gamma_keys = {k for k in before if "gamma" in k[1] or "gamma" in k[2]}
    # What the re-run must produce: what alpha and beta have now, and for delta what alpha has.
    expected = (before - gamma_keys) | _as_tenant(before, "alpha", "delta")
    proc = version_n.playbook_async("site.yml", extra_vars={"studio_tenants": tenants, "studio_flink_image": IMAGE_N1})
    lines, deadline = [], time.monotonic() + 600
    try:
        for line in proc.stdout:
            lines.append(line)
            if "Apply the session cluster" in line or "session_cluster : Apply" in line:
                break
            assert time.monotonic() < deadline, "site.yml never reached the session clusters"
        version_n.stop_apiserver()
        time.sleep(3)
        version_n.start_apiserver()
        rest, _ = proc.communicate(timeout=600)
        lines.append(rest)
    finally:
        if proc.poll() is None:
            proc.kill()
    interrupted = "".join(lines)
    run = _site(version_n, tenants=tenants, image=IMAGE_N1)
    assert run.returncode == 0, "re-run after the API server restart failed:\n" + run.describe() + \
        "\n--- interrupted run ---\n" + interrupted[-3000:]
    live = set(version_n.managed_objects())   # managed_objects() itself asserts there are no duplicates
    gamma = {k for k in live if "gamma" in k[1] or "gamma" in k[2]}  # terminating since the test above
    missing = expected - live
    orphans = live - expected - gamma
    assert not missing, f"missing after the re-run: {sorted(missing)}"
    assert not orphans, f"orphaned objects: {sorted(orphans)}"
    rs = version_n.kubectl_json("get", "replicasets", "-A", "-l", "app.kubernetes.io/managed-by=flinksql.studio")["items"]
    active = [r["metadata"]["name"] for r in rs if r["spec"].get("replicas", 0) > 0]
    owners = [r["metadata"]["ownerReferences"][0]["name"] for r in rs if r["spec"].get("replicas", 0) > 0]
    assert len(owners) == len(set(owners)), f"several active ReplicaSets per Deployment: {active}"
    assert Path(version_n.kubeconfig).exists()
