"""teardown.yml on the local control plane (a private one: tests/fixtures/studio.py).

The tests run in file order and share converges (each costs tens of seconds):

1. converge two tenants; ``teardown --check`` changes nothing;
2. ``teardown_keep_data``: every PVC and its namespace stay, nothing else labelled does; a new
   site.yml run re-attaches the very same claims;
3. the full teardown against an emulated operator finalizer: tenant ``alpha`` runs a real Flink
   job on the real JobManager of ``flink_gateway``, and its FlinkDeployment carries a finalizer that
   a test thread (standing in for the operator's block-on-unmanaged-jobs rule) removes only once
   that JobManager has no running job; tenant ``beta`` carries a finalizer nobody removes. The
   teardown cancels alpha's job, alpha goes, and the run fails after ``teardown_finalizer_timeout``
   naming beta; a re-run with ``teardown_force_finalizers`` completes and nothing the studio
   created is left (every kind in MANAGED_KINDS, the Helm release, the namespaces).

What this does not prove: the real operator's finalizer (the stand-in has none; see
docs/operator-standin.md), and the JobManager reached through the API server's service proxy
(kwok pods serve nothing, so the JobManager URL is overridden with teardown_jobmanager_urls).
"""
import json
import re
import threading
import time
import urllib.request

import pytest

from tests.fixtures.studio import MANAGED_BY, studio_cluster, tenant  # noqa: F401 - fixture

# A converge takes minutes on a loaded 2-core machine; the fixture converges count against the first test.
pytestmark = [pytest.mark.cluster, pytest.mark.slow, pytest.mark.timeout(1800)]
TENANTS = [tenant("alpha"), tenant("beta")]
FINALIZER = "flink.apache.org/finalizer"
NS = {"alpha": "flink-studio-alpha", "beta": "flink-studio-beta"}


def _converge(cluster, **extra):
    run = cluster.playbook("site.yml", extra_vars={"studio_tenants": TENANTS, **extra})
    assert run.returncode == 0, run.describe()
    return run


def _teardown(cluster, *args, **extra):
    return cluster.playbook("teardown.yml", *args, extra_vars={
        "studio_tenants": TENANTS, "teardown_confirm": True, "teardown_unlisted_tenants": True,
        "teardown_poll_interval": 1, **extra})


@pytest.fixture(scope="module")
def deployed(studio_cluster):  # noqa: F811
    _converge(studio_cluster)
    return studio_cluster


def test_teardown_refuses_without_confirmation(deployed):
    run = deployed.playbook("teardown.yml", extra_vars={"studio_tenants": TENANTS})
    assert run.returncode != 0 and "teardown_confirm" in run.output, run.describe()
    assert deployed.managed_objects(), "nothing deployed"


def test_check_mode_lists_and_changes_nothing(deployed):
    before = deployed.managed_objects()
    run = _teardown(deployed, "--check")
    assert run.returncode == 0, run.describe()
    assert deployed.managed_objects() == before
    removed = re.search(r"Would remove (\d+) object\(s\) and the namespaces ([^;]*);", run.output)
    assert removed and int(removed.group(1)) > 0 and "flink-studio-alpha" in removed.group(2), run.describe()


def test_keep_data_keeps_claims_and_their_namespaces_only(deployed):
    pvcs_before = {(k[1], k[2]): v["uid"] for k, v in deployed.managed_objects().items()
                   if k[0] == "PersistentVolumeClaim"}
    assert pvcs_before, "the studio created no PVC to keep (HA volume, catalog store, PostgreSQL)"
    run = _teardown(deployed, teardown_keep_data=True, teardown_cancel_jobs=False)
    assert run.returncode == 0, run.describe()
    left = deployed.managed_objects()
    kinds_left = {k[0] for k in left}
    assert kinds_left <= {"PersistentVolumeClaim", "Namespace"}, f"left besides PVCs and namespaces: {sorted(left)}"
    assert {(k[1], k[2]) for k in left if k[0] == "PersistentVolumeClaim"} == set(pvcs_before)
    kept_ns = {k[2] for k in left if k[0] == "Namespace"}
    assert kept_ns == {ns for ns, _ in pvcs_before}, "kept namespaces must be exactly those holding a PVC"
    assert "flink-operator" not in kept_ns
    # site.yml on top re-attaches the same claims.
    _converge(deployed)
    after = {(k[1], k[2]): v["uid"] for k, v in deployed.managed_objects().items() if k[0] == "PersistentVolumeClaim"}
    assert {key: after.get(key) for key in pvcs_before} == pvcs_before, "claims were re-created, not re-attached"


def _gateway_sql(gateway_url, statements):
    def call(method, path, body=None):
        req = urllib.request.Request(gateway_url + path, method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310 - 127.0.0.1
            return json.loads(resp.read() or b"{}")

    session = call("POST", "/v3/sessions", {"sessionName": "teardown-test"})["sessionHandle"]
    for statement in statements:
        op = call("POST", f"/v3/sessions/{session}/statements", {"statement": statement})["operationHandle"]
        deadline = time.monotonic() + 60
        while call("GET", f"/v3/sessions/{session}/operations/{op}/status")["status"] not in ("FINISHED", "ERROR"):
            assert time.monotonic() < deadline, f"statement did not finish: {statement}"
            time.sleep(0.5)
    return session


class OperatorFinalizerDouble(threading.Thread):
    """Removes FINALIZER from a deleted FlinkDeployment once the JobManager runs no job: the
    operator's kubernetes.operator.session.deletion.block-on-unmanaged-jobs, for this test only."""

    def __init__(self, cluster, namespace, name, jm_rest):
        super().__init__(daemon=True)
        self.cluster, self.namespace, self.name, self.jm_rest = cluster, namespace, name, jm_rest
        self.released_with_running_jobs = None
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            fd = self.cluster.kubectl("get", "flinkdeployment", self.name, "-n", self.namespace, "-o", "json",
                                      check=False)
            if fd.returncode != 0:
                return
            meta = json.loads(fd.stdout)["metadata"]
            if meta.get("deletionTimestamp"):
                with urllib.request.urlopen(f"{self.jm_rest}/jobs/overview", timeout=5) as resp:  # noqa: S310
                    running = [j for j in json.loads(resp.read())["jobs"]
                               if j["state"] not in ("FINISHED", "CANCELED", "FAILED", "SUSPENDED")]
                if not running:
                    self.cluster.kubectl("patch", "flinkdeployment", self.name, "-n", self.namespace,
                                         "--type=merge", "-p", '{"metadata":{"finalizers":null}}', check=False)
                    self.released_with_running_jobs = False
                    return
            time.sleep(0.5)


def test_full_teardown_cancels_jobs_waits_with_a_bound_and_leaves_nothing(deployed, flink_gateway):
    # alpha: a real unbounded job, and a finalizer released only when no job runs
    _gateway_sql(flink_gateway.url, [
        "CREATE TEMPORARY TABLE src (x INT) WITH ('connector' = 'datagen', 'rows-per-second' = '1')",
        "CREATE TEMPORARY TABLE snk (x INT) WITH ('connector' = 'blackhole')",
        "INSERT INTO snk SELECT x FROM src",
    ])
    deadline = time.monotonic() + 60
    while not [j for j in flink_gateway.jobs() if j["state"] == "RUNNING"]:
        assert time.monotonic() < deadline, f"the test job never ran: {flink_gateway.jobs()}"
        time.sleep(0.5)
    for tenant in ("alpha", "beta"):
        deployed.kubectl("patch", "flinkdeployment", tenant, "-n", NS[tenant], "--type=merge",
                         "-p", json.dumps({"metadata": {"finalizers": [FINALIZER]}}))
    double = OperatorFinalizerDouble(deployed, NS["alpha"], "alpha", flink_gateway.jm_rest)
    double.start()
    try:
        started = time.monotonic()
        run = _teardown(deployed, teardown_jobmanager_urls={"alpha": flink_gateway.jm_rest},
                        teardown_finalizer_timeout=8)
        elapsed = time.monotonic() - started
    finally:
        double.stop.set()
    # beta's finalizer is never released: bounded wait, then a failure naming it
    assert run.returncode != 0, run.describe()
    assert f"{NS['beta']}/beta" in run.output and FINALIZER in run.output, run.describe()
    assert f"{NS['alpha']}/alpha" not in run.output.split("still exist", 1)[-1].split("\n")[0], run.describe()
    # The wait is bounded (the message says after how long); the whole run, under load, must not hang.
    assert "still exist 8 s after their deletion" in run.output, run.describe()
    assert elapsed < 900, f"teardown took {elapsed:.0f}s"
    assert double.released_with_running_jobs is False, "alpha's finalizer was never released: jobs still ran?"
    assert not [j for j in flink_gateway.jobs() if j["state"] not in ("CANCELED", "FINISHED", "FAILED")]
    assert deployed.kubectl("get", "flinkdeployment", "alpha", "-n", NS["alpha"], check=False).returncode != 0

    run = _teardown(deployed, teardown_force_finalizers=True, teardown_finalizer_timeout=3)
    assert run.returncode == 0, run.describe()
    left = deployed.managed_objects()
    assert not left, f"the studio left {sorted(left)}"
    namespaces = {n["metadata"]["name"] for n in deployed.kubectl_json("get", "namespaces")["items"]}
    assert not namespaces & {"flink-studio", "flink-operator", *NS.values()}, namespaces
    helm = deployed.kubectl_json("get", "secrets", "-A", "-l", "owner=helm")["items"]
    assert not helm, "a Helm release is left"
    # Nothing namespaced that carries our part-of label either (e.g. a kind missing from MANAGED_KINDS).
    leftovers = deployed.kubectl("get", "all", "-A", "-l", "app.kubernetes.io/part-of=flink-sql-studio",
                                 "-o", "name").stdout.split()
    assert not leftovers, leftovers


def test_teardown_of_nothing_is_a_noop(deployed):
    run = _teardown(deployed)
    assert run.returncode == 0, run.describe()
    assert run.recap().get("changed", 0) == 0, run.describe()
    assert MANAGED_BY
