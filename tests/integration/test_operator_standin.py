"""The operator stand-in (hack/operator_standin.py) against the local control plane.

It must do to the API what the Flink Kubernetes Operator 1.15 does: the operator's object names,
labels and owner references, and the operator's status sequence (FACTS sections 4 and 5).
"""
import json
import threading

import pytest
from kubernetes import client, watch

from tests.fixtures.standin import GROUP, PLURAL, VERSION, flinkdeployment, wait_until

pytestmark = [pytest.mark.cluster, pytest.mark.slow]


@pytest.fixture
def api(k8s_client, operator_standin):
    class Api:
        custom = client.CustomObjectsApi(k8s_client)
        core = client.CoreV1Api(k8s_client)
        apps = client.AppsV1Api(k8s_client)

        def create(self, ns, body):
            return self.custom.create_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, body)

        def get(self, ns, name):
            return self.custom.get_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, name)

        def status(self, ns, name):
            return self.get(ns, name).get("status") or {}

        def events(self, ns, name):
            return self.core.list_namespaced_event(
                ns, field_selector="involvedObject.kind=FlinkDeployment,involvedObject.name=" + name).items

    return Api()


def record_statuses(k8s_client, ns, name, stop):
    """Every distinct (lifecycle, JM, reconciliation, observedGeneration) seen by a watch."""
    seen = []
    custom = client.CustomObjectsApi(k8s_client)
    listed = custom.list_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, field_selector="metadata.name=" + name)
    for item in listed["items"]:  # already there: start from its current status
        status = item.get("status") or {}
        seen.append((status.get("lifecycleState"), status.get("jobManagerDeploymentStatus"),
                     (status.get("reconciliationStatus") or {}).get("state"), status.get("observedGeneration")))

    def run():
        w = watch.Watch()
        for event in w.stream(custom.list_namespaced_custom_object, GROUP, VERSION, ns, PLURAL,
                              field_selector="metadata.name=" + name, timeout_seconds=60,
                              resource_version=listed["metadata"]["resourceVersion"]):
            status = event["object"].get("status") or {}
            step = (status.get("lifecycleState"), status.get("jobManagerDeploymentStatus"),
                    (status.get("reconciliationStatus") or {}).get("state"), status.get("observedGeneration"))
            if status and (not seen or seen[-1] != step):
                seen.append(step)
            if stop.is_set():
                w.stop()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return seen, thread


def is_ready(status, generation=1):
    return (status.get("jobManagerDeploymentStatus") == "READY" and status.get("lifecycleState") == "STABLE"
            and status.get("observedGeneration") == generation)


def test_walks_status_and_creates_the_operators_objects(api, k8s_client, fresh_namespace):
    ns, name = fresh_namespace, "alpha"
    stop = threading.Event()
    seen, _ = record_statuses(k8s_client, ns, name, stop)
    body = flinkdeployment(name, tm_replicas=2)
    body["spec"]["jobManager"]["podTemplate"] = {"spec": {  # merged with spec.podTemplate by name
        "volumes": [{"name": "scratch", "emptyDir": {}}],
        "containers": [{"name": "flink-main-container", "volumeMounts": [{"name": "scratch", "mountPath": "/s"}]}]}}
    created = api.create(ns, body)
    status = wait_until(lambda: api.status(ns, name), is_ready, timeout=60, what="READY/STABLE")
    stop.set()

    # the operator's sequence: CREATED -> DEPLOYED/DEPLOYING -> DEPLOYED_NOT_READY -> STABLE/READY
    steps = [(lc, jm, rec) for lc, jm, rec, _ in seen]
    assert steps[0] == ("CREATED", "MISSING", "UPGRADING"), seen
    order = [("DEPLOYED", "DEPLOYING", "DEPLOYED"), ("DEPLOYED", "DEPLOYED_NOT_READY", "DEPLOYED"),
             ("STABLE", "READY", "DEPLOYED")]
    assert [s for s in steps if s in order] == order, seen
    assert seen[0][3] is None and seen[-1][3] == 1  # observedGeneration only with the deployed spec

    assert status["clusterInfo"]["flink-version"] == "2.2.1"
    assert "flink-revision" in status["clusterInfo"]
    assert status["conditions"] == [{
        "type": "Running", "status": "True", "reason": "JobManagerReady",
        "message": "JobManager is running and ready to receive REST API calls",
        "lastTransitionTime": status["conditions"][0]["lastTransitionTime"]}]
    rec = status["reconciliationStatus"]
    assert rec["state"] == "DEPLOYED" and rec["lastStableSpec"] == rec["lastReconciledSpec"]
    assert json.loads(rec["lastReconciledSpec"])["spec"]["image"] == "flink:2.2.1-java17"
    assert "error" not in status
    assert status["taskManager"] == {"labelSelector": "component=taskmanager,app=alpha", "replicas": 2}

    owner = {"kind": "FlinkDeployment", "name": name, "uid": created["metadata"]["uid"], "controller": True}
    jm = api.apps.read_namespaced_deployment(name, ns)
    labels = {"app": name, "component": "jobmanager", "type": "flink-standalone-kubernetes"}
    assert jm.metadata.labels == labels and jm.spec.template.metadata.labels == labels
    assert {k: getattr(jm.metadata.owner_references[0], k) for k in owner} == owner
    container = jm.spec.template.spec.containers[0]
    assert container.name == "flink-main-container" and container.image == "flink:2.2.1-java17"
    assert container.security_context.allow_privilege_escalation is False
    assert jm.spec.template.spec.security_context.run_as_non_root is True
    assert [m.mount_path for m in container.volume_mounts] == ["/s"]
    assert [v.name for v in jm.spec.template.spec.volumes] == ["scratch"]
    assert container.resources.limits == {"cpu": "500m", "memory": "1Gi"}  # canonical form of 0.5 / 1024m
    assert jm.status.available_replicas == 1

    tm = api.apps.read_namespaced_deployment(name + "-taskmanager", ns)
    assert tm.spec.replicas == 2 and tm.spec.template.metadata.labels["component"] == "taskmanager"

    rest = api.core.read_namespaced_service(name + "-rest", ns)
    assert rest.spec.type == "ClusterIP"
    assert [(p.port, p.target_port) for p in rest.spec.ports] == [(8081, 8081)]
    assert rest.spec.selector == {"app": name, "component": "jobmanager"}
    assert rest.metadata.owner_references[0].uid == created["metadata"]["uid"]

    pods = api.core.list_namespaced_pod(ns, label_selector="app=alpha,component=jobmanager").items
    assert len(pods) == 1 and pods[0].metadata.labels["type"] == "flink-standalone-kubernetes"

    reasons = [(e.type, e.reason, e.source.component) for e in api.events(ns, name)]
    assert ("Normal", "Submit", "JobManagerDeployment") in reasons


def test_native_mode_has_no_taskmanager_deployment(api, fresh_namespace):
    ns = fresh_namespace
    api.create(ns, flinkdeployment("native", mode="native"))
    wait_until(lambda: api.status(ns, "native"), is_ready, timeout=60, what="READY")
    jm = api.apps.read_namespaced_deployment("native", ns)
    assert jm.metadata.labels["type"] == "flink-native-kubernetes"
    names = [d.metadata.name for d in api.apps.list_namespaced_deployment(ns).items]
    assert names == ["native"]


def test_rewalks_on_generation_bump(api, k8s_client, fresh_namespace):
    ns, name = fresh_namespace, "bump"
    api.create(ns, flinkdeployment(name))
    wait_until(lambda: api.status(ns, name), is_ready, timeout=60, what="READY at generation 1")
    stop = threading.Event()
    seen, _ = record_statuses(k8s_client, ns, name, stop)
    patched = api.custom.patch_namespaced_custom_object(
        GROUP, VERSION, ns, PLURAL, name, {"spec": {"taskManager": {"replicas": 3}}})
    assert patched["metadata"]["generation"] == 2
    status = wait_until(lambda: api.status(ns, name), lambda s: is_ready(s, 2), timeout=60,
                        what="READY at generation 2")
    stop.set()
    assert ("UPGRADING", "READY", "UPGRADING", 2) in seen, seen
    assert ("DEPLOYED", "DEPLOYING", "DEPLOYED", 2) in seen, seen
    assert json.loads(status["reconciliationStatus"]["lastReconciledSpec"])["spec"]["taskManager"]["replicas"] == 3
    assert api.apps.read_namespaced_deployment(name + "-taskmanager", ns).spec.replicas == 3
    assert "SpecChanged" in [e.reason for e in api.events(ns, name)]


def test_jobmanager_error_on_demand(api, fresh_namespace):
    ns, name = fresh_namespace, "broken"
    api.create(ns, flinkdeployment(name, {"standin.flinksql.studio/fail": "jobmanager-error"}))
    status = wait_until(lambda: api.status(ns, name),
                        lambda s: s.get("jobManagerDeploymentStatus") == "ERROR", timeout=60, what="JM ERROR")
    error = json.loads(status["error"])
    assert error["type"].endswith("DeploymentFailedException")
    assert "back-off 5m0s restarting failed container=flink-main-container" in error["message"]
    assert status["lifecycleState"] == "DEPLOYED" and status["observedGeneration"] == 1
    assert status["conditions"][0]["reason"] == "Error"
    assert ("Warning", "CrashLoopBackOff") in [(e.type, e.reason) for e in api.events(ns, name)]


@pytest.mark.parametrize("how", ["annotation", "old-version"])
def test_unsupported_version_is_only_an_event(api, fresh_namespace, how):
    ns, name = fresh_namespace, "old"
    if how == "annotation":
        body = flinkdeployment(name, {"standin.flinksql.studio/fail": "unsupported-version"})
    else:
        body = flinkdeployment(name, image="flink:1.16", flink_version="v1_16")
    api.create(ns, body)
    events = wait_until(lambda: api.events(ns, name), lambda ev: ev, timeout=30, what="an event")
    assert [(e.type, e.reason) for e in events] == [("Warning", "UnsupportedFlinkVersion")]
    assert "is not supported by this operator version" in events[0].message
    assert api.status(ns, name) == {}  # no status change at all
    assert api.apps.list_namespaced_deployment(ns).items == []


def test_validation_error_on_demand(api, fresh_namespace):
    ns, name = fresh_namespace, "invalid"
    api.create(ns, flinkdeployment(name, {"standin.flinksql.studio/fail": "validation-error"}))
    status = wait_until(lambda: api.status(ns, name), lambda s: s.get("error"), timeout=30, what="error")
    assert status["lifecycleState"] == "FAILED" and "observedGeneration" not in status
    assert "ValidationError" in [e.reason for e in api.events(ns, name)]


def test_quota_failedcreate_becomes_jobmanager_error(api, fresh_namespace):
    ns, name = fresh_namespace, "quota"
    api.core.create_namespaced_resource_quota(ns, {
        "metadata": {"name": "tenant-quota"}, "spec": {"hard": {"limits.cpu": "100m"}}})
    wait_until(lambda: api.core.read_namespaced_resource_quota("tenant-quota", ns).status.hard,
               lambda hard: hard, timeout=30, what="quota status")
    api.create(ns, flinkdeployment(name))
    status = wait_until(lambda: api.status(ns, name),
                        lambda s: s.get("jobManagerDeploymentStatus") == "ERROR", timeout=60, what="JM ERROR")
    message = json.loads(status["error"])["message"]
    assert "exceeded quota: tenant-quota" in message, message
    assert json.loads(status["error"])["additionalMetadata"] == {"reason": "FailedCreate"}


def test_deletion_leaves_cleanup_to_the_garbage_collector(api, fresh_namespace):
    ns, name = fresh_namespace, "gone"
    api.create(ns, flinkdeployment(name))
    wait_until(lambda: api.status(ns, name), is_ready, timeout=60, what="READY")
    api.custom.delete_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, name)
    wait_until(lambda: [d.metadata.name for d in api.apps.list_namespaced_deployment(ns).items],
               lambda names: names == [], timeout=60, what="Deployments garbage-collected")
    wait_until(lambda: [s.metadata.name for s in api.core.list_namespaced_service(ns).items],
               lambda names: names == [], timeout=60, what="Services garbage-collected")
