"""The local control plane does what issue 2's "Done when" list says (hack/cluster-up.sh).

Every test talks to the real kube-apiserver started by the session fixture ``kubeconfig``;
nodes and pod lifecycles are kwok's. Each test asserts an observable effect of a real component
(admission, schema validation, a controller, the scheduler) and would fail without it.
"""
import ipaddress
import json
import os
import socket
import time
import uuid

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from tests.fixtures.cluster import COMPONENTS, component_pids, read_state, run_script

pytestmark = pytest.mark.cluster

LOOPBACK = ipaddress.ip_network("127.0.0.0/8")
IMAGE = "registry.invalid/never-pulled:1"  # kwok runs no containers; nothing is pulled


def wait_until(predicate, timeout=60, interval=0.25, what="condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def restricted_container(name="app"):
    return client.V1Container(
        name=name, image=IMAGE,
        security_context=client.V1SecurityContext(
            allow_privilege_escalation=False, run_as_non_root=True, run_as_user=1000,
            capabilities=client.V1Capabilities(drop=["ALL"]),
            seccomp_profile=client.V1SeccompProfile(type="RuntimeDefault"),
        ),
    )


def pod(name, container=None, resources=None, labels=None):
    container = container or client.V1Container(name="app", image=IMAGE)
    if resources:
        container.resources = client.V1ResourceRequirements(requests=resources, limits=resources)
    return client.V1Pod(metadata=client.V1ObjectMeta(name=name, labels=labels),
                        spec=client.V1PodSpec(containers=[container]))


def deployment(name, replicas):
    labels = {"app": name}
    return client.V1Deployment(
        metadata=client.V1ObjectMeta(name=name),
        spec=client.V1DeploymentSpec(
            replicas=replicas,
            selector=client.V1LabelSelector(match_labels=labels),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels=labels),
                spec=client.V1PodSpec(containers=[client.V1Container(
                    name="app", image=IMAGE, ports=[client.V1ContainerPort(container_port=8083)])]),
            ),
        ),
    )


def wait_available(apps, namespace, name, replicas, timeout=90):
    def available():
        dep = apps.read_namespaced_deployment(name, namespace)
        conditions = {c.type: c.status for c in dep.status.conditions or []}
        return dep.status.available_replicas == replicas and conditions.get("Available") == "True" and dep
    return wait_until(available, timeout, what=f"Deployment {namespace}/{name} Available")


def test_kwok_nodes_are_ready_with_loopback_addresses(k8s_client):
    nodes = client.CoreV1Api(k8s_client).list_node(label_selector="type=kwok").items
    assert len(nodes) >= 2
    for node in nodes:
        assert node.metadata.annotations.get("kwok.x-k8s.io/node") == "fake"
        ready = [c for c in node.status.conditions if c.type == "Ready"]
        assert ready and ready[0].status == "True", f"{node.metadata.name} not Ready: {node.status.conditions}"
        addresses = [a.address for a in node.status.addresses if a.type == "InternalIP"]
        assert addresses and all(ipaddress.ip_address(a) in LOOPBACK for a in addresses), addresses
        assert ipaddress.ip_network(node.spec.pod_cidr).subnet_of(LOOPBACK)
        assert node.status.allocatable["pods"] == "110"


def test_deployment_of_two_replicas_becomes_available(k8s_client, fresh_namespace):
    apps, core = client.AppsV1Api(k8s_client), client.CoreV1Api(k8s_client)
    apps.create_namespaced_deployment(fresh_namespace, deployment("web", 2))
    wait_available(apps, fresh_namespace, "web", 2)
    # The controller manager made a ReplicaSet and two pods; the scheduler put them on kwok nodes.
    assert len(apps.list_namespaced_replica_set(fresh_namespace).items) == 1
    pods = core.list_namespaced_pod(fresh_namespace, label_selector="app=web").items
    assert len(pods) == 2
    node_names = {n.metadata.name for n in core.list_node(label_selector="type=kwok").items}
    for p in pods:
        assert p.status.phase == "Running"
        assert p.spec.node_name in node_names
        # ServiceAccount admission mounted a projected token volume.
        assert any(v.projected for v in p.spec.volumes), p.spec.volumes


def test_pod_ips_are_in_loopback_range(k8s_client, fresh_namespace):
    core = client.CoreV1Api(k8s_client)
    for i in range(3):
        core.create_namespaced_pod(fresh_namespace, pod(f"p{i}"))

    def running():
        items = core.list_namespaced_pod(fresh_namespace).items
        return len(items) == 3 and all(p.status.phase == "Running" and p.status.pod_ip for p in items) and items
    pods = wait_until(running, what="3 pods Running with an IP")
    ips = [p.status.pod_ip for p in pods]
    assert len(set(ips)) == 3, ips
    for p in pods:
        assert ipaddress.ip_address(p.status.pod_ip) in LOOPBACK, p.status.pod_ip
        assert ipaddress.ip_address(p.status.host_ip) in LOOPBACK, p.status.host_ip


def test_pod_security_restricted_rejects_privileged_pod(k8s_client, fresh_namespace):
    core = client.CoreV1Api(k8s_client)
    privileged = client.V1Container(name="app", image=IMAGE,
                                    security_context=client.V1SecurityContext(privileged=True))
    # Control: without the label the API server admits a privileged pod (--allow-privileged=true),
    # so the rejection below comes from Pod Security admission.
    core.create_namespaced_pod(fresh_namespace, pod("privileged-before", privileged))
    core.patch_namespace(fresh_namespace, {"metadata": {"labels": {
        "pod-security.kubernetes.io/enforce": "restricted"}}})
    # Pod Security admission reads namespace labels from the API server's informer cache, which
    # follows the patch within moments: a pod created in that window is still admitted.
    deadline, attempt, refusal = time.monotonic() + 10, 0, None
    while refusal is None and time.monotonic() < deadline:
        attempt += 1
        try:
            core.create_namespaced_pod(fresh_namespace, pod("privileged-%d" % attempt, privileged))
            time.sleep(0.2)
        except ApiException as exc:
            refusal = exc
    assert refusal is not None, "a privileged pod was still admitted 10 s after the namespace enforced restricted"
    assert refusal.status == 403
    message = json.loads(refusal.body)["message"]
    assert 'violates PodSecurity "restricted:latest"' in message
    assert "privileged (container \"app\" must not set securityContext.privileged=true)" in message
    created = core.create_namespaced_pod(fresh_namespace, pod("compliant", restricted_container()))
    assert created.metadata.name == "compliant"


def flink_deployment(name, flink_version):
    return {
        "apiVersion": "flink.apache.org/v1beta1",
        "kind": "FlinkDeployment",
        "metadata": {"name": name},
        "spec": {
            "image": "flink:2.2.1-java17",
            "flinkVersion": flink_version,
            "flinkConfiguration": {"taskmanager.numberOfTaskSlots": "2"},
            "serviceAccount": "flink",
            "jobManager": {"resource": {"memory": "2048m", "cpu": 1}},
            "taskManager": {"resource": {"memory": "2048m", "cpu": 1}},
        },
    }


def test_flinkdeployment_crd_schema_is_enforced(k8s_client, flink_crds, fresh_namespace):
    custom = client.CustomObjectsApi(k8s_client)
    args = ("flink.apache.org", "v1beta1", fresh_namespace, "flinkdeployments")
    with pytest.raises(ApiException) as err:
        custom.create_namespaced_custom_object(*args, flink_deployment("bad-version", "v9_9"))
    assert err.value.status == 422
    body = json.loads(err.value.body)
    assert body["reason"] == "Invalid"
    assert any(c["field"] == "spec.flinkVersion" for c in body["details"]["causes"]), body
    assert '"v2_2"' in body["message"]  # the enum of the applied CRD is what rejected it
    created = custom.create_namespaced_custom_object(*args, flink_deployment("good-version", "v2_2"))
    assert created["spec"]["flinkVersion"] == "v2_2"
    assert custom.get_namespaced_custom_object(*args, "good-version")["metadata"]["uid"]


def test_kubectl_server_side_dry_run_validates_and_creates_nothing(kubectl, k8s_client, fresh_namespace):
    manifest = {
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "dry", "namespace": fresh_namespace}, "data": {"k": "v"},
    }
    result = kubectl("apply", "--dry-run=server", "-f", "-", input=json.dumps(manifest))
    assert result.returncode == 0, result.stderr
    assert "configmap/dry created (server dry run)" in result.stdout
    with pytest.raises(ApiException) as err:
        client.CoreV1Api(k8s_client).read_namespaced_config_map("dry", fresh_namespace)
    assert err.value.status == 404
    # The dry run reaches the server's validation: a negative replica count is a server-side error.
    bad = dict(client.ApiClient().sanitize_for_serialization(deployment("neg", -1)),
               apiVersion="apps/v1", kind="Deployment")
    result = kubectl("apply", "--dry-run=server", "-n", fresh_namespace, "-f", "-", input=json.dumps(bad))
    assert result.returncode != 0
    assert "spec.replicas: Invalid value: -1" in result.stderr


def test_resource_quota_rejects_pod_over_quota(k8s_client, fresh_namespace):
    core = client.CoreV1Api(k8s_client)
    core.create_namespaced_resource_quota(fresh_namespace, client.V1ResourceQuota(
        metadata=client.V1ObjectMeta(name="q"),
        spec=client.V1ResourceQuotaSpec(hard={"requests.cpu": "1", "limits.cpu": "1", "pods": "5"})))
    # The quota controller (kube-controller-manager) must have computed status before admission
    # can charge against it.
    wait_until(lambda: (core.read_namespaced_resource_quota("q", fresh_namespace).status.hard or {}).get("pods"),
               what="quota status computed by the controller manager")
    core.create_namespaced_pod(fresh_namespace, pod("small", resources={"cpu": "600m"}))
    with pytest.raises(ApiException) as err:
        core.create_namespaced_pod(fresh_namespace, pod("big", resources={"cpu": "600m"}))
    assert err.value.status == 403
    assert "exceeded quota: q" in err.value.body
    wait_until(lambda: core.read_namespaced_resource_quota("q", fresh_namespace).status.used.get("requests.cpu") == "600m",
               what="quota usage tracked")


def _proxy_get(k8s_client, path):
    try:
        k8s_client.call_api(path, "GET", auth_settings=["BearerToken"], _preload_content=False)
    except ApiException as exc:
        return exc
    raise AssertionError(f"GET {path} unexpectedly succeeded")


def test_services_proxy_route_resolves_the_service(k8s_client, fresh_namespace):
    """The services/proxy subresource exists and goes Service -> Endpoints: with no ready
    endpoint the API server answers 503 "no endpoints available", not a route 404."""
    core = client.CoreV1Api(k8s_client)
    core.create_namespaced_service(fresh_namespace, client.V1Service(
        metadata=client.V1ObjectMeta(name="gw"),
        spec=client.V1ServiceSpec(selector={"app": "nothing-matches"},
                                  ports=[client.V1ServicePort(name="http", port=8083, target_port=8083)])))
    # The endpoints controller publishes the (empty) Endpoints object of the Service.
    wait_until(lambda: _exists(core.read_namespaced_endpoints, "gw", fresh_namespace),
               what="Endpoints gw created by the endpoints controller")
    base = f"/api/v1/namespaces/{fresh_namespace}/services"
    missing = _proxy_get(k8s_client, f"{base}/nope:8083/proxy/v3/info")
    assert missing.status == 404
    assert json.loads(missing.body)["message"] == 'services "nope" not found'
    err = _proxy_get(k8s_client, f"{base}/gw:8083/proxy/v3/info")
    assert err.status == 503, (err.status, err.body)
    assert json.loads(err.body)["message"] == 'no endpoints available for service "gw"'
    wrong_port = _proxy_get(k8s_client, f"{base}/gw:9999/proxy/")
    assert wrong_port.status == 503
    assert "no service port 9999 found" in json.loads(wrong_port.body)["message"]


def test_loopback_pod_addresses_are_never_dialled_by_the_api_server(k8s_client, fresh_namespace):
    """Safety property of 127.0.0.0/8 pod IPs: the API server's validation refuses loopback
    endpoint addresses (so services/proxy has nothing to dial) and pods/proxy refuses to dial a
    non-global-unicast pod IP."""
    apps, core = client.AppsV1Api(k8s_client), client.CoreV1Api(k8s_client)
    apps.create_namespaced_deployment(fresh_namespace, deployment("gw", 1))
    core.create_namespaced_service(fresh_namespace, client.V1Service(
        metadata=client.V1ObjectMeta(name="gw"),
        spec=client.V1ServiceSpec(selector={"app": "gw"},
                                  ports=[client.V1ServicePort(name="http", port=8083, target_port=8083)])))
    wait_available(apps, fresh_namespace, "gw", 1)
    pod_obj = core.list_namespaced_pod(fresh_namespace, label_selector="app=gw").items[0]
    assert ipaddress.ip_address(pod_obj.status.pod_ip) in LOOPBACK

    def rejected_event():
        events = core.list_namespaced_event(
            fresh_namespace, field_selector="involvedObject.kind=Service,involvedObject.name=gw").items
        return [e for e in events if e.type == "Warning" and "may not be in the loopback range" in (e.message or "")]
    assert wait_until(rejected_event, what="endpoint controllers reporting the loopback address as invalid")
    # (raw JSON: the Python client cannot deserialize a slice whose `endpoints` is null)
    slices = json.loads(client.DiscoveryV1Api(k8s_client).list_namespaced_endpoint_slice(
        fresh_namespace, label_selector="kubernetes.io/service-name=gw", _preload_content=False).data)["items"]
    assert not [a for s in slices for e in s.get("endpoints") or [] for a in e["addresses"]], slices
    err = _proxy_get(k8s_client, f"/api/v1/namespaces/{fresh_namespace}/pods/{pod_obj.metadata.name}:8083/proxy/")
    assert err.status == 400 and json.loads(err.body)["message"] == "address not allowed", (err.status, err.body)


def test_service_account_tokens_are_issued_and_verified(k8s_client, fresh_namespace):
    core = client.CoreV1Api(k8s_client)
    wait_until(lambda: _exists(core.read_namespaced_service_account, "default", fresh_namespace),
               what="default ServiceAccount (serviceaccount controller)")
    wait_until(lambda: _exists(core.read_namespaced_config_map, "kube-root-ca.crt", fresh_namespace),
               what="kube-root-ca.crt ConfigMap (root CA publisher)")
    token = core.create_namespaced_service_account_token(
        "default", fresh_namespace, client.AuthenticationV1TokenRequest(
            spec=client.V1TokenRequestSpec(audiences=["https://kubernetes.default.svc.cluster.local"]))).status.token
    review = client.AuthenticationV1Api(k8s_client).create_token_review(client.V1TokenReview(
        spec=client.V1TokenReviewSpec(token=token)))
    assert review.status.authenticated, review.status
    assert review.status.user.username == f"system:serviceaccount:{fresh_namespace}:default"


def _exists(read, *args):
    try:
        return read(*args)
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise


def test_namespace_deletion_completes(k8s_client):
    core = client.CoreV1Api(k8s_client)
    name = f"t-del-{uuid.uuid4().hex[:8]}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    core.create_namespaced_config_map(name, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="c")))
    core.create_namespaced_pod(name, pod("p"))
    core.delete_namespace(name)
    # The namespace controller empties it (kwok removes the terminating pod) and finalizes it.
    wait_until(lambda: _exists(core.read_namespace, name) is None, timeout=90, what=f"namespace {name} gone")


def _listening(port):
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.slow
def test_second_cluster_up_is_idempotent_and_down_leaves_nothing(tmp_path):
    directory = tmp_path / "cluster2"
    first = run_script("cluster-up.sh", directory, timeout=300)
    assert first.returncode == 0, first.stderr
    try:
        pids = component_pids(directory)
        assert set(pids) == set(COMPONENTS), pids
        state = read_state(directory)
        ports = [int(v) for k, v in state.items() if k.endswith("PORT")]
        assert len(ports) == 5 and all(_listening(p) for p in ports), state
        again = run_script("cluster-up.sh", directory, timeout=300)
        assert again.returncode == 0, again.stderr
        assert "reusing it" in again.stderr
        assert component_pids(directory) == pids
        assert read_state(directory)["API_URL"] == state["API_URL"]
    finally:
        down = run_script("cluster-down.sh", directory, timeout=120)
    assert down.returncode == 0, down.stderr
    for component, pid in pids.items():
        try:
            exe = os.readlink(f"/proc/{pid}/exe")
        except OSError:
            exe = None
        assert exe is None or not exe.endswith("/" + component), f"{component} pid {pid} still runs"
    assert not any(_listening(p) for p in ports), ports
    assert not directory.exists()
