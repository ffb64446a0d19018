"""flinksql.studio.flinkdeployment_wait, run for real through ansible-playbook, against the local
control plane with the operator stand-in (hack/operator_standin.py).

Each case runs a one-task playbook (connection local) with the cluster's kubeconfig and reads
the registered result from a JSON file the play writes.
"""
import json
import os
import subprocess
import textwrap
import time

import pytest
import yaml
from kubernetes import client

from tests.fixtures.standin import GROUP, PLURAL, VERSION, flinkdeployment, wait_until
from tests.versions import REPO_ROOT

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

ANSIBLE_PLAYBOOK = REPO_ROOT / ".venv" / "bin" / "ansible-playbook"
PLAYBOOK = textwrap.dedent("""\
    - name: Wait for a FlinkDeployment
      hosts: localhost
      connection: local
      gather_facts: false
      tasks:
        - name: Wait
          flinksql.studio.flinkdeployment_wait:
            name: "{{ fd_name }}"
            namespace: "{{ fd_namespace }}"
            timeout: "{{ fd_timeout | int }}"
            kubeconfig: "{{ fd_kubeconfig }}"
          register: __wait
          ignore_errors: true
        - name: Save the result
          ansible.builtin.copy:
            content: "{{ __wait | to_json }}"
            dest: "{{ result_file }}"
            mode: "0600"
          check_mode: false
""")


class Run:
    def __init__(self, process, result_file, started):
        self.process = process
        self.result_file = result_file
        self.started = started
        self.wall = None

    def descendants(self):
        """PIDs of every process below ansible-playbook (the module runs in one of them)."""
        children, found, todo = {}, [], [self.process.pid]
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open("/proc/{0}/stat".format(entry)) as stat:
                        ppid = int(stat.read().rsplit(")", 1)[1].split()[1])
                except (OSError, IndexError, ValueError):
                    continue
                children.setdefault(ppid, []).append(int(entry))
        while todo:
            pid = todo.pop()
            for child in children.get(pid, []):
                found.append(child)
                todo.append(child)
        return found

    def wait_until_module_runs(self, settle=0.5, timeout=90):
        """Block until the module's own process holds two connections to the API server (it has
        listed and opened its watches), then `settle` s more."""
        def api_connections():
            count = 0
            for pid in self.descendants():
                try:
                    with open("/proc/{0}/cmdline".format(pid), "rb") as cmdline:
                        if b"AnsiballZ_flinkdeployment_wait" not in cmdline.read():
                            continue
                    inodes = set()
                    for fd in os.listdir("/proc/{0}/fd".format(pid)):
                        target = os.readlink("/proc/{0}/fd/{1}".format(pid, fd))
                        if target.startswith("socket:["):
                            inodes.add(target[8:-1])
                except OSError:
                    continue
                for table in ("/proc/net/tcp", "/proc/net/tcp6"):
                    with open(table) as lines:
                        for line in list(lines)[1:]:
                            fields = line.split()
                            remote_port = int(fields[2].rsplit(":", 1)[1], 16)
                            if fields[3] == "01" and fields[9] in inodes and remote_port == self.api_port:
                                count += 1
            return count

        wait_until(api_connections, lambda n: n >= 2, timeout=timeout, interval=0.05,
                   what="the module's watches on the API server")
        time.sleep(settle)
        assert self.process.poll() is None, "ansible-playbook ended before the test acted"

    def finish(self, timeout=180):
        out, _ = self.process.communicate(timeout=timeout)
        self.wall = time.monotonic() - self.started
        assert self.process.returncode == 0, out
        self.output = out
        return json.loads(self.result_file.read_text())


@pytest.fixture
def wait_module(kubeconfig, tmp_path):
    playbook = tmp_path / "wait.yml"
    playbook.write_text(PLAYBOOK)
    counter = [0]
    with open(kubeconfig) as handle:
        server = yaml.safe_load(handle)["clusters"][0]["cluster"]["server"]
    api_port = int(server.rsplit(":", 1)[1].strip("/"))

    def start(name, namespace, timeout, check=False):
        counter[0] += 1
        result_file = tmp_path / "result-{0}.json".format(counter[0])
        cmd = [str(ANSIBLE_PLAYBOOK), "-i", "localhost,", str(playbook),
               "-e", "ansible_python_interpreter={0}".format(REPO_ROOT / ".venv" / "bin" / "python"),
               "-e", json.dumps({"fd_name": name, "fd_namespace": namespace, "fd_timeout": timeout,
                                 "fd_kubeconfig": kubeconfig, "result_file": str(result_file)})]
        if check:
            cmd.append("--check")
        env = dict(os.environ, ANSIBLE_CONFIG=str(REPO_ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
        process = subprocess.Popen(cmd, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True)
        run = Run(process, result_file, time.monotonic())
        run.api_port = api_port
        return run

    def run(name, namespace, timeout, check=False):
        return start(name, namespace, timeout, check).finish()

    run.start = start
    return run


@pytest.fixture
def custom(k8s_client, flink_crds):
    return client.CustomObjectsApi(k8s_client)


def create(custom, ns, body):
    return custom.create_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, body)


def write_status(custom, ns, name, generation, jm="READY", lifecycle="STABLE", rec="DEPLOYED"):
    """Play the operator by hand (for objects the stand-in ignores)."""
    obj = custom.get_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, name)
    obj["status"] = {
        "jobManagerDeploymentStatus": jm, "lifecycleState": lifecycle, "observedGeneration": generation,
        "reconciliationStatus": {"state": rec}, "clusterInfo": {"flink-version": "2.2.1"},
    }
    return custom.replace_namespaced_custom_object_status(GROUP, VERSION, ns, PLURAL, name, obj)


def test_ready_path(wait_module, custom, operator_standin, fresh_namespace):
    create(custom, fresh_namespace, flinkdeployment("alpha"))
    result = wait_module("alpha", fresh_namespace, 90)
    assert not result.get("failed"), result["msg"]
    assert result["changed"] is False and result["ready"] is True
    state = result["state"]
    assert (state["job_manager_deployment_status"], state["lifecycle_state"], state["reconciliation_state"]) == (
        "READY", "STABLE", "DEPLOYED")
    assert state["flink_version"] == "2.2.1"
    assert state["generation"] == state["observed_generation"] == 1
    assert state["running_condition"]["reason"] == "JobManagerReady"
    assert ("Normal", "Submit") in [(e["type"], e["reason"]) for e in result["events"]]
    assert 0 < result["waited"] < 90


def test_generation_bump_old_ready_does_not_count(wait_module, custom, fresh_namespace):
    """Status driven by hand: READY of generation 1 stays visible after the bump to 2."""
    ns, name = fresh_namespace, "bump"
    create(custom, ns, flinkdeployment(name, {"standin.flinksql.studio/ignore": "true"}))
    write_status(custom, ns, name, generation=1)
    patched = custom.patch_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, name,
                                                    {"spec": {"taskManager": {"replicas": 2}}})
    assert patched["metadata"]["generation"] == 2 and patched["status"]["jobManagerDeploymentStatus"] == "READY"
    run = wait_module.start(name, ns, 60)
    run.wait_until_module_runs(settle=2.0)  # it has seen the old READY and must still be waiting
    flipped = time.monotonic()
    write_status(custom, ns, name, generation=2)
    result = run.finish()
    assert not result.get("failed"), result["msg"]
    assert result["state"]["observed_generation"] == 2 and result["ready"] is True
    # reacted to the flip, not to the 60 s timeout (the play still runs its save task after it;
    # the reaction time itself is measured by benchmarks/wait_reaction_s.py)
    assert time.monotonic() - flipped < 30


def test_generation_bump_with_standin_rewalk(wait_module, custom, operator_standin, fresh_namespace):
    ns, name = fresh_namespace, "rewalk"
    """Apply-then-wait as a playbook does it. (Whether the module is still waiting when the
    stand-in finishes depends on ansible-playbook's start-up time; the deterministic proof that
    an old READY does not count is the hand-driven test above.)"""
    create(custom, ns, flinkdeployment(name, {"standin.flinksql.studio/ready-delay-seconds": "0.2"}))
    assert wait_module(name, ns, 60)["ready"] is True
    custom.patch_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, name, {
        "metadata": {"annotations": {"standin.flinksql.studio/ready-delay-seconds": "3"}},
        "spec": {"taskManager": {"replicas": 2}}})
    result = wait_module(name, ns, 60)
    assert not result.get("failed"), result["msg"]
    assert result["ready"] is True
    assert result["state"]["generation"] == result["state"]["observed_generation"] == 2
    assert "SpecChanged" in [e["reason"] for e in result["events"]]


def test_jobmanager_error_fails_fast_with_the_operators_message(wait_module, custom, operator_standin,
                                                                fresh_namespace):
    create(custom, fresh_namespace, flinkdeployment("broken", {"standin.flinksql.studio/fail": "jobmanager-error"}))
    run = wait_module.start("broken", fresh_namespace, 300)
    result = run.finish()
    assert result["failed"] is True
    assert "the JobManager deployment is in ERROR" in result["msg"]
    assert "CrashLoopBackOff: back-off 5m0s restarting failed container=flink-main-container" in result["msg"]
    assert result["state"]["job_manager_deployment_status"] == "ERROR"
    assert run.wall < 60, "should fail fast, not at the 300 s timeout"


def test_quota_failedcreate_fails_fast_with_the_quota_message(wait_module, custom, k8s_client, operator_standin,
                                                              fresh_namespace):
    # Issue 6, proof 4: a session cluster past its tenant's quota (forced past preflight) is refused
    # by the API server's quota admission; the wait reports that, not a timeout.
    core = client.CoreV1Api(k8s_client)
    core.create_namespaced_resource_quota(fresh_namespace, {
        "metadata": {"name": "tenant-quota"}, "spec": {"hard": {"requests.cpu": "100m", "limits.cpu": "100m"}}})
    wait_until(lambda: core.read_namespaced_resource_quota("tenant-quota", fresh_namespace).status.hard,
               lambda hard: hard, timeout=30, what="the quota's status")
    create(custom, fresh_namespace, flinkdeployment("greedy"))
    run = wait_module.start("greedy", fresh_namespace, 300)
    result = run.finish()
    assert result["failed"] is True, result
    assert "the JobManager deployment is in ERROR" in result["msg"], result["msg"]
    assert "FailedCreate" in result["msg"] and "exceeded quota: tenant-quota" in result["msg"], result["msg"]
    assert ("Warning", "FailedCreate") in [(e["type"], e["reason"]) for e in result["events"]]
    assert run.wall < 60, "should fail fast, not at the 300 s timeout"


def test_unsupported_flink_version_event_fails_fast(wait_module, custom, operator_standin, fresh_namespace):
    create(custom, fresh_namespace, flinkdeployment("old", image="flink:1.16", flink_version="v1_16"))
    run = wait_module.start("old", fresh_namespace, 300)
    result = run.finish()
    assert result["failed"] is True
    assert "(UnsupportedFlinkVersion): Flink version v1_16 is not supported" in result["msg"]
    assert result["state"]["lifecycle_state"] is None  # no status at all
    assert ("Warning", "UnsupportedFlinkVersion") in [(e["type"], e["reason"]) for e in result["events"]]
    assert run.wall < 60


def test_timeout_reports_last_state_and_events(wait_module, custom, operator_standin, fresh_namespace):
    create(custom, fresh_namespace, flinkdeployment("stuck", {"standin.flinksql.studio/fail": "stuck"}))
    run = wait_module.start("stuck", fresh_namespace, 8)
    result = run.finish()
    assert result["failed"] is True
    msg = result["msg"]
    assert "Timed out after 8 s waiting for FlinkDeployment {0}/stuck".format(fresh_namespace) in msg
    assert "jobManagerDeploymentStatus=DEPLOYED_NOT_READY" in msg, msg
    assert "Recent events: Normal Submit x1" in msg and "Starting deployment" in msg
    assert 8 <= result["waited"] < 12


def test_timeout_without_operator_says_so(wait_module, custom, fresh_namespace):
    create(custom, fresh_namespace, flinkdeployment("orphan", {"standin.flinksql.studio/ignore": "true"}))
    result = wait_module("orphan", fresh_namespace, 2)
    assert result["failed"] is True
    assert "has no status yet" in result["msg"] and "Is the Flink Kubernetes Operator running" in result["msg"]
    assert "Recent events: none" in result["msg"]


def test_deleted_while_waiting(wait_module, custom, operator_standin, fresh_namespace):
    create(custom, fresh_namespace, flinkdeployment("doomed", {"standin.flinksql.studio/fail": "stuck"}))
    run = wait_module.start("doomed", fresh_namespace, 120)
    run.wait_until_module_runs()
    deleted = time.monotonic()
    custom.delete_namespaced_custom_object(GROUP, VERSION, fresh_namespace, PLURAL, "doomed")
    result = run.finish()
    assert result["failed"] is True
    assert "FlinkDeployment {0}/doomed was deleted while waiting".format(fresh_namespace) in result["msg"]
    assert "jobManagerDeploymentStatus=DEPLOYED_NOT_READY" in result["msg"]
    assert time.monotonic() - deleted < 30  # not the 120 s timeout


def test_missing_object_fails_clearly(wait_module, flink_crds, fresh_namespace):
    result = wait_module("nothing", fresh_namespace, 30)
    assert result["failed"] is True
    assert "FlinkDeployment {0}/nothing does not exist".format(fresh_namespace) in result["msg"]


def test_check_mode_returns_at_once(wait_module, custom, operator_standin, fresh_namespace):
    create(custom, fresh_namespace, flinkdeployment("dry", {"standin.flinksql.studio/fail": "stuck"}))
    result = wait_module("dry", fresh_namespace, 300, check=True)
    assert not result.get("failed") and result["changed"] is False
    assert result["msg"].startswith("check mode: did not wait")
    assert result["waited"] < 5
    missing = wait_module("not-created-yet", fresh_namespace, 300, check=True)
    assert not missing.get("failed") and "does not exist (yet)" in missing["msg"]


# --- the watch mechanics, in-process (what a playbook cannot provoke on demand) -----------------

from ansible_collections.flinksql.studio.plugins.modules import flinkdeployment_wait as wait_mod  # noqa: E402


def test_watch_relists_after_410_gone(k8s_client, custom, fresh_namespace):
    """A watch from a compacted resourceVersion gets 410 Gone; the stream lists again."""
    import queue

    create(custom, fresh_namespace, flinkdeployment("gone", {"standin.flinksql.studio/ignore": "true"}))

    def list_fd(**kwargs):
        return client.CustomObjectsApi(k8s_client).list_namespaced_custom_object(
            GROUP, VERSION, fresh_namespace, PLURAL, field_selector="metadata.name=gone", **kwargs)

    out = queue.Queue()
    stream = wait_mod._WatchStream("flinkdeployment", list_fd, "1", time.monotonic() + 20, out)
    stream.start()
    try:
        label, kind, payload = out.get(timeout=15)
        assert (label, kind) == ("flinkdeployment", "LIST")
        assert [item["metadata"]["name"] for item in payload] == ["gone"]
        write_status(custom, fresh_namespace, "gone", generation=1)
        label, kind, payload = out.get(timeout=15)
        assert kind == "MODIFIED" and payload["status"]["jobManagerDeploymentStatus"] == "READY"
    finally:
        stream.stop()


def test_watch_reconnects_when_the_server_ends_the_stream(k8s_client, custom, fresh_namespace, monkeypatch):
    monkeypatch.setattr(wait_mod, "MAX_WATCH_SECONDS", 1)  # the API server closes each watch after 1 s
    ns, name = fresh_namespace, "long"
    create(custom, ns, flinkdeployment(name, {"standin.flinksql.studio/ignore": "true"}))
    write_status(custom, ns, name, generation=1, jm="DEPLOYING", lifecycle="DEPLOYED")
    done = {}

    def run():
        done["result"] = wait_mod.wait_for_flinkdeployment(k8s_client, name, ns, 30)

    import threading

    thread = threading.Thread(target=run)
    thread.start()
    time.sleep(4)  # several server-side stream ends later
    assert thread.is_alive()
    flipped = time.monotonic()
    write_status(custom, ns, name, generation=1)
    thread.join(30)
    assert done["result"]["ready"] is True, done["result"]["msg"]
    assert time.monotonic() - flipped < 2
