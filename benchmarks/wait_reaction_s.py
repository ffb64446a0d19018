#!/usr/bin/env python3
"""wait_reaction_s: seconds from the FlinkDeployment's status flip to READY until the wait returns.

On the local control plane (hack/cluster-up.sh; started if it is not up). The benchmark plays
the operator itself: it creates a FlinkDeployment that the operator stand-in ignores
(annotation ``standin.flinksql.studio/ignore: "true"``), writes a not-ready status through the
``/status`` subresource, starts the wait, and then writes READY/STABLE/DEPLOYED at the current
generation. The clock starts just before that status write is sent and stops when the wait
returns.

Headline figure (the BENCH line): ``flinkdeployment_wait``'s waiting function
(``wait_for_flinkdeployment``), run in-process, median over 20 flips. In-process, because the
figure is about the watch's reaction, not about Python and Ansible start-up (which happen before
the flip and do not count). Printed beside it, measured in the same run and on the same harness:
the same module through ``ansible-playbook`` (clock stops at process exit, so it includes the
end of the play), and ``kubernetes.core.k8s_info`` with ``until``/``retries``/``delay: 5``
(3 flips each). For those two the flip is made only once the module's own process runs
(found below ansible-playbook in /proc), so Ansible's start-up is not counted either; for
k8s_info it then lands at a random point of the 5 s poll cycle.
"""
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import uuid
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / ".cache" / "collections"))

from kubernetes import client, config  # noqa: E402
from kubernetes.client.rest import ApiException  # noqa: E402

from ansible_collections.flinksql.studio.plugins.modules.flinkdeployment_wait import (  # noqa: E402
    wait_for_flinkdeployment,
)

GROUP, VERSION, PLURAL = "flink.apache.org", "v1beta1", "flinkdeployments"
FLIPS = int(os.environ.get("WAIT_REACTION_FLIPS", "20"))
SLOW_FLIPS = int(os.environ.get("WAIT_REACTION_SLOW_FLIPS", "3"))
TARGET = 0.25
ENV = dict(os.environ, ANSIBLE_CONFIG=str(REPO_ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
PYTHON = REPO_ROOT / ".venv" / "bin" / "python"
PLAYBOOK = textwrap.dedent("""\
    - name: Wait on a FlinkDeployment
      hosts: localhost
      connection: local
      gather_facts: false
      tasks:
        - name: With flinksql.studio.flinkdeployment_wait
          when: tool == 'module'
          flinksql.studio.flinkdeployment_wait:
            name: "{{ fd_name }}"
            namespace: "{{ fd_namespace }}"
            kubeconfig: "{{ fd_kubeconfig }}"
            timeout: 300
        - name: With kubernetes.core.k8s_info until/retries/delay 5
          when: tool == 'k8s_info'
          kubernetes.core.k8s_info:
            api_version: flink.apache.org/v1beta1
            kind: FlinkDeployment
            name: "{{ fd_name }}"
            namespace: "{{ fd_namespace }}"
            kubeconfig: "{{ fd_kubeconfig }}"
          register: __fd
          until: >-
            __fd.resources | length == 1
            and __fd.resources[0].status.jobManagerDeploymentStatus | default('') == 'READY'
            and __fd.resources[0].status.lifecycleState | default('') == 'STABLE'
            and __fd.resources[0].status.observedGeneration | default(-1)
                == __fd.resources[0].metadata.generation
          retries: 60
          delay: 5
""")


def log(message):
    print(message, flush=True)


def ensure_cluster():
    kubeconfig = Path(os.environ.get("CLUSTER_DIR") or REPO_ROOT / ".cluster") / "kubeconfig"
    subprocess.run(["bash", str(REPO_ROOT / "hack" / "cluster-up.sh")], cwd=REPO_ROOT, check=True,
                   stdout=sys.stderr)
    return str(kubeconfig)


def ensure_crd(api, kubeconfig):
    try:
        client.ApiextensionsV1Api(api).read_custom_resource_definition("flinkdeployments.flink.apache.org")
        return
    except ApiException as exc:
        if exc.status != 404:
            raise
    crds = subprocess.run(["bash", str(REPO_ROOT / "hack" / "fetch-crds.sh")], cwd=REPO_ROOT, check=True,
                          capture_output=True, text=True).stdout.strip().splitlines()[-1]
    kubectl = str(REPO_ROOT / ".cache" / "bin" / "kubectl")
    for args in (["apply", "--server-side", "-f", crds],
                 ["wait", "--for=condition=Established", "--timeout=60s", "-f", crds]):
        subprocess.run([kubectl, "--kubeconfig", kubeconfig] + args, check=True, stdout=sys.stderr)


class Harness:
    def __init__(self, api, namespace, name):
        self.custom = client.CustomObjectsApi(api)
        self.namespace, self.name = namespace, name
        self.generation = 1

    def create(self):
        self.custom.create_namespaced_custom_object(GROUP, VERSION, self.namespace, PLURAL, {
            "apiVersion": "{0}/{1}".format(GROUP, VERSION), "kind": "FlinkDeployment",
            "metadata": {"name": self.name, "annotations": {"standin.flinksql.studio/ignore": "true"}},
            "spec": {"image": "flink:2.2.1-java17", "flinkVersion": "v2_2", "mode": "standalone",
                     "jobManager": {"resource": {"cpu": 0.5, "memory": "1024m"}},
                     "taskManager": {"replicas": 1, "resource": {"cpu": 0.5, "memory": "1024m"}}},
        })

    def bump(self):
        """A spec change, as before every real wait: generation + 1."""
        obj = self.custom.patch_namespaced_custom_object(
            GROUP, VERSION, self.namespace, PLURAL, self.name,
            {"spec": {"taskManager": {"replicas": random.randint(1, 9)}}})
        self.generation = obj["metadata"]["generation"]

    def status(self, ready):
        obj = self.custom.get_namespaced_custom_object(GROUP, VERSION, self.namespace, PLURAL, self.name)
        obj["status"] = {
            "jobManagerDeploymentStatus": "READY" if ready else "DEPLOYED_NOT_READY",
            "lifecycleState": "STABLE" if ready else "DEPLOYED",
            "observedGeneration": self.generation,
            "reconciliationStatus": {"state": "DEPLOYED"},
            "clusterInfo": {"flink-version": "2.2.1"} if ready else {},
        }
        self.custom.replace_namespaced_custom_object_status(GROUP, VERSION, self.namespace, PLURAL,
                                                            self.name, obj)


def flip_in_process(harness, api):
    harness.bump()
    harness.status(ready=False)
    done = {}

    def run():
        done["result"] = wait_for_flinkdeployment(api, harness.name, harness.namespace, 60)
        done["at"] = time.monotonic()

    thread = threading.Thread(target=run)
    thread.start()
    time.sleep(0.5)  # the wait has listed and opened its watches
    assert thread.is_alive(), done.get("result")
    start = time.monotonic()
    harness.status(ready=True)
    thread.join(60)
    result = done["result"]
    assert result["ready"], result["msg"]
    return done["at"] - start


def flip_playbook(harness, kubeconfig, playbook, tool):
    harness.bump()
    harness.status(ready=False)
    process = subprocess.Popen(
        [str(REPO_ROOT / ".venv" / "bin" / "ansible-playbook"), "-i", "localhost,", str(playbook),
         "-e", json.dumps({"tool": tool, "fd_name": harness.name, "fd_namespace": harness.namespace,
                           "fd_kubeconfig": kubeconfig, "ansible_python_interpreter": str(PYTHON)})],
        cwd=REPO_ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    # Start-up does not count: wait until the module's own process runs, then (k8s_info) land at
    # a random point of its 5 s poll cycle, or (our module) give it a second to list and watch.
    deadline = time.monotonic() + 120
    while not module_running(process.pid, "AnsiballZ_" + ("k8s_info" if tool == "k8s_info" else
                                                          "flinkdeployment_wait")):
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()[0]
        time.sleep(0.05)
    time.sleep(random.uniform(0.0, 5.0) if tool == "k8s_info" else 1.0)
    assert process.poll() is None, process.communicate()[0]
    start = time.monotonic()
    harness.status(ready=True)
    out, _ = process.communicate(timeout=120)
    elapsed = time.monotonic() - start
    assert process.returncode == 0, out
    return elapsed


def module_running(root_pid, marker):
    """Whether a process below root_pid has `marker` in its command line (/proc scan)."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/{0}/stat".format(entry)) as stat:
                    ppid = int(stat.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(entry)
    todo = [str(root_pid)]
    while todo:
        for child in children.get(int(todo.pop()), []):
            try:
                with open("/proc/{0}/cmdline".format(child), "rb") as cmdline:
                    if marker.encode() in cmdline.read():
                        return True
            except OSError:
                pass
            todo.append(child)
    return False


def describe(values):
    return "median {0:.3f} s (min {1:.3f}, max {2:.3f}, n={3})".format(
        statistics.median(values), min(values), max(values), len(values))


def main():
    kubeconfig = ensure_cluster()
    api = config.new_client_from_config(config_file=kubeconfig)
    ensure_crd(api, kubeconfig)
    core = client.CoreV1Api(api)
    namespace = "bench-wait-" + uuid.uuid4().hex[:8]
    core.create_namespace({"metadata": {"name": namespace}})
    try:
        harness = Harness(api, namespace, "bench")
        harness.create()
        flip_in_process(harness, api)  # warm-up (connection pool, imports), not counted
        fast = [flip_in_process(harness, api) for _ in range(FLIPS)]
        log("flinkdeployment_wait, waiting function in-process (watch): " + describe(fast))
        with tempfile.TemporaryDirectory() as tmp:
            playbook = Path(tmp) / "wait.yml"
            playbook.write_text(PLAYBOOK)
            module = [flip_playbook(harness, kubeconfig, playbook, "module") for _ in range(SLOW_FLIPS)]
            log("flinkdeployment_wait through ansible-playbook (to process exit): " + describe(module))
            polled = [flip_playbook(harness, kubeconfig, playbook, "k8s_info") for _ in range(SLOW_FLIPS)]
            log("kubernetes.core.k8s_info until/retries/delay 5 through ansible-playbook (to process exit): "
                + describe(polled))
    finally:
        core.delete_namespace(namespace)
    print("BENCH wait_reaction_s value={0:.3f} target<={1}".format(statistics.median(fast), TARGET))


if __name__ == "__main__":
    main()
