"""The roles' apply (roles/studio/tasks/apply.yml) retries an apply that meets a 409 Conflict and
converges, and stops at once on any other error.

The 409 is injected by tests.fixtures.faults.ConflictProxy in front of the real API server, which
answers every other request (and the retried apply). This proves the retry, not that the roles'
objects can race into a real conflict."""
import json

import pytest

from tests.fixtures.cluster import cluster_dir
from tests.fixtures.faults import ConflictProxy
from tests.fixtures.render import VENV_BIN, run_playbook

PLAYBOOK = "tests/integration/playbooks/apply_batch.yml"


def _config_map(namespace, name="retry-probe", value="1"):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": namespace},
            "data": {"value": value}}


def _apply(kubeconfig, objects, *extra):
    return run_playbook(PLAYBOOK, "-i", "localhost,", "-e", "ansible_python_interpreter=%s" % (VENV_BIN / "python"),
                        "-e", json.dumps({"studio_kubeconfig": kubeconfig, "apply_test_objects": objects}),
                        *extra, check=False, timeout=300)


@pytest.fixture
def conflict_proxy(kubeconfig, tmp_path, fresh_namespace):
    def start(count):
        return ConflictProxy(kubeconfig, cluster_dir() / "pki", "PATCH",
                             r"/namespaces/%s/configmaps/retry-probe" % fresh_namespace, count=count, workdir=tmp_path)
    return start


def test_an_apply_meeting_one_409_is_retried_and_converges(conflict_proxy, fresh_namespace, kubectl):
    with conflict_proxy(count=1) as proxy:
        run = _apply(proxy.kubeconfig, [_config_map(fresh_namespace, value="applied-after-409")])
    assert proxy.injected, "the proxy never saw the apply (test setup problem)"
    assert run.returncode == 0, run.stdout[-4000:]
    assert "RETRYING" in run.stdout, "the 409 was not retried:\n" + run.stdout[-4000:]
    assert proxy.forwarded, "the retried apply never reached the API server"
    data = json.loads(kubectl("get", "configmap", "retry-probe", "-n", fresh_namespace, "-o", "json").stdout)["data"]
    assert data == {"value": "applied-after-409"}


def test_conflicts_beyond_the_retries_fail_with_the_api_servers_message(conflict_proxy, fresh_namespace, kubectl):
    with conflict_proxy(count=10) as proxy:
        run = _apply(proxy.kubeconfig, [_config_map(fresh_namespace)], "-e", "studio_apply_conflict_retries=2")
    assert run.returncode != 0
    assert len(proxy.injected) == 3, "expected the first attempt and 2 retries, saw %d" % len(proxy.injected)
    assert "Conflict" in run.stdout and "please apply your changes" in run.stdout, run.stdout[-4000:]
    missing = kubectl("get", "configmap", "retry-probe", "-n", fresh_namespace, "--ignore-not-found", "-o", "name")
    assert missing.stdout.strip() == ""


def test_an_error_that_is_not_a_conflict_is_not_retried(kubeconfig, fresh_namespace):
    invalid = _config_map(fresh_namespace, name="Not_A_DNS_Name")
    run = _apply(kubeconfig, [invalid])
    assert run.returncode != 0
    assert "RETRYING" not in run.stdout, "a 422 Invalid was retried:\n" + run.stdout[-4000:]
    assert "Invalid" in run.stdout or "invalid" in run.stdout, run.stdout[-4000:]
