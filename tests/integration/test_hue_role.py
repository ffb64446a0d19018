"""The hue role against the local control plane (real kube-apiserver, kwok-simulated pods that
become Ready and Job pods that complete): check mode, converge, idempotence, Ingress with and
without TLS, bundled and external database, and no secret value in `ansible-playbook -vvv`.

The runs build on each other (one module-scoped studio namespace), in the order a user would:
check mode first on an empty namespace, then converge, re-run, switch settings.
"""
import base64
import json
import re
import uuid

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from tests.unit.test_hue_ini import ansible_env, run_playbook

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

TENANTS = [{"name": "ana"}, {"name": "bob"}]


@pytest.fixture(scope="module")
def studio(kubeconfig, k8s_client, tmp_path_factory):
    """A fresh studio namespace, a PersistentVolume pinned to the bundled PostgreSQL's claim, and
    a runner for the studio + hue playbook against it."""
    core = client.CoreV1Api(k8s_client)
    namespace = "hue-{0}".format(uuid.uuid4().hex[:8])
    storage_class = "hue-test-{0}".format(namespace)
    # Pod Security "restricted" enforced: Hue, migrations and PostgreSQL pods must pass it to exist.
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(
        name=namespace, labels={"flinksql.studio/test": "true",
                                "pod-security.kubernetes.io/enforce": "restricted",
                                "pod-security.kubernetes.io/enforce-version": "latest"})))
    # No provisioner on the local control plane: a static volume bound to exactly our claim.
    core.create_persistent_volume(client.V1PersistentVolume(
        metadata=client.V1ObjectMeta(name=namespace + "-pg"),
        spec=client.V1PersistentVolumeSpec(
            capacity={"storage": "5Gi"}, access_modes=["ReadWriteOnce"], storage_class_name=storage_class,
            host_path=client.V1HostPathVolumeSource(path="/tmp/" + namespace),
            claim_ref=client.V1ObjectReference(namespace=namespace, name="data-hue-postgresql-0"))))
    tmp = tmp_path_factory.mktemp("hue-role")
    base_vars = {"studio_namespace": namespace, "studio_tenants": TENANTS,
                 "hue_postgresql_storage_class": storage_class, "hue_wait_timeout": 180}
    env = ansible_env(K8S_AUTH_KUBECONFIG=kubeconfig)

    def run(args=(), expect_failure=False, **extra_vars):
        result = run_playbook(tmp, dict(base_vars, **extra_vars), args=args, env=env, timeout=900)
        assert (result.returncode != 0) == expect_failure, result.stdout[-6000:]
        return result.stdout

    yield {"namespace": namespace, "run": run, "core": core, "apps": client.AppsV1Api(k8s_client),
           "batch": client.BatchV1Api(k8s_client), "net": client.NetworkingV1Api(k8s_client)}
    core.delete_namespace(namespace)
    try:
        core.delete_persistent_volume(namespace + "-pg")
    except ApiException as exc:
        if exc.status != 404:
            raise


def changed_count(output):
    match = re.search(r"^localhost\s*:.*?changed=(\d+)", output, re.MULTILINE)
    assert match, output[-3000:]
    return int(match.group(1))


def secret_data(studio, name):
    secret = studio["core"].read_namespaced_secret(name, studio["namespace"])
    return {k: base64.b64decode(v).decode() for k, v in secret.data.items()}, secret.metadata.resource_version


def names(items):
    return sorted(item.metadata.name for item in items)


def hue_conf_value(studio, file_name, key):
    config = studio["core"].read_namespaced_config_map("hue-config", studio["namespace"])
    match = re.search(r"^{0}=(.*)$".format(re.escape(key)), config.data[file_name], re.MULTILINE)
    return match.group(1) if match else None


def test_hue_role_lifecycle(studio, kubectl):
    ns, core, apps, batch, net = (studio[k] for k in ("namespace", "core", "apps", "batch", "net"))
    tls_secret = client.V1Secret(metadata=client.V1ObjectMeta(name="hue-user-tls"), type="kubernetes.io/tls",
                                 string_data={"tls.crt": "not-a-real-cert", "tls.key": "not-a-real-key"})
    core.create_namespaced_secret(ns, tls_secret)
    ingress_tls = {"hue_ingress_enabled": True, "hue_ingress_host": "hue.studio.test",
                   "hue_ingress_class_name": "nginx", "hue_ingress_tls_enabled": True,
                   "hue_ingress_tls_secret_name": "hue-user-tls"}

    # Pod Security "restricted" really is enforced here: a pod without a securityContext is refused.
    with pytest.raises(ApiException) as refused:
        core.create_namespaced_pod(ns, client.V1Pod(
            metadata=client.V1ObjectMeta(name="unrestricted"),
            spec=client.V1PodSpec(containers=[client.V1Container(name="c", image="busybox")])))
    assert refused.value.status == 403 and "restricted" in refused.value.body

    # 1. Check mode on an empty namespace: a server-side dry run that creates nothing.
    studio["run"](args=("--check",), **ingress_tls)
    assert names(core.list_namespaced_secret(ns, label_selector="app.kubernetes.io/part-of=flink-sql-studio").items) == []
    assert names(core.list_namespaced_config_map(ns, label_selector="app.kubernetes.io/name=hue").items) == []
    assert names(apps.list_namespaced_deployment(ns).items) == []
    assert names(apps.list_namespaced_stateful_set(ns).items) == []
    assert names(batch.list_namespaced_job(ns).items) == []
    assert names(net.list_namespaced_ingress(ns).items) == []

    # 2. Converge with -vvv: bundled PostgreSQL, Ingress with TLS from the user's Secret.
    output = studio["run"](args=("-vvv",), **ingress_tls)
    hue_secrets, hue_version = secret_data(studio, "hue-secrets")
    pg_secrets, pg_version = secret_data(studio, "hue-postgresql")
    assert sorted(hue_secrets) == ["admin_password", "secret_key"] and list(pg_secrets) == ["password"]
    values = list(hue_secrets.values()) + list(pg_secrets.values())
    assert all(len(v) >= 24 for v in values)
    for value in values:
        for form in (value, base64.b64encode(value.encode()).decode()):
            assert form not in output, "a secret value (or its base64) appears in the -vvv output"

    deployment = apps.read_namespaced_deployment("hue", ns)
    assert deployment.status.ready_replicas == 1
    assert apps.read_namespaced_stateful_set("hue-postgresql", ns).status.ready_replicas == 1
    jobs = batch.list_namespaced_job(ns, label_selector="app.kubernetes.io/component=migrations").items
    assert len(jobs) == 1 and jobs[0].status.succeeded == 1
    first_job = jobs[0].metadata.name
    assert deployment.spec.template.metadata.annotations["flinksql.studio/migrations"] == first_job
    options = {}
    config = core.read_namespaced_config_map("hue-config", ns).data["40-notebook.ini"]
    for key, url in re.findall(r"^\[\[\[(flink-\w+)\]\]\]\n(?:.*\n)*?options='(.*)'$", config, re.MULTILINE):
        options[key] = json.loads(url)["url"]
    assert options == {"flink-ana": "http://ana-sql-gateway.{0}-ana.svc:8083".format(ns),
                       "flink-bob": "http://bob-sql-gateway.{0}-bob.svc:8083".format(ns)}
    ingress = net.read_namespaced_ingress("hue", ns)
    assert ingress.spec.ingress_class_name == "nginx"
    assert ingress.spec.tls[0].secret_name == "hue-user-tls" and ingress.spec.tls[0].hosts == ["hue.studio.test"]
    assert hue_conf_value(studio, "10-desktop.ini", "host") == "hue-postgresql.{0}.svc".format(ns)

    # 3. Idempotence: nothing changes, the generated secrets are kept.
    output = studio["run"](**ingress_tls)
    assert changed_count(output) == 0, output[-6000:]
    assert secret_data(studio, "hue-secrets") == (hue_secrets, hue_version)
    assert secret_data(studio, "hue-postgresql") == (pg_secrets, pg_version)

    # 4. External database, Ingress without TLS: new migrations Job (new hash), old one removed.
    core.create_namespaced_secret(ns, client.V1Secret(
        metadata=client.V1ObjectMeta(name="external-pg"), string_data={"pw": "external-pg-password-1"}))
    studio["run"](hue_database_mode="external", hue_database_host="pg.db.example.org",
                  hue_database_port=6432, hue_database_password_secret="external-pg",
                  hue_database_password_secret_key="pw", hue_ingress_enabled=True,
                  hue_ingress_host="hue.studio.test")
    jobs = batch.list_namespaced_job(ns, label_selector="app.kubernetes.io/component=migrations").items
    assert len(jobs) == 1 and jobs[0].metadata.name != first_job and jobs[0].status.succeeded == 1
    assert hue_conf_value(studio, "10-desktop.ini", "host") == "pg.db.example.org"
    assert hue_conf_value(studio, "10-desktop.ini", "port") == "6432"
    pod_spec = apps.read_namespaced_deployment("hue", ns).spec.template.spec
    secrets_volume = next(v for v in pod_spec.volumes if v.name == "secrets")
    db_source = secrets_volume.projected.sources[1].secret
    assert (db_source.name, db_source.items[0].key) == ("external-pg", "pw")
    ingress = net.read_namespaced_ingress("hue", ns)
    assert not ingress.spec.tls
    assert secret_data(studio, "hue-secrets")[0] == hue_secrets, "secret_key survives a settings change"
    assert apps.read_namespaced_deployment("hue", ns).status.ready_replicas == 1

    # 5. TLS from cert-manager on a cluster without cert-manager: a clear failure, nothing half-done.
    crds = client.ApiextensionsV1Api(core.api_client).list_custom_resource_definition(
        field_selector="metadata.name=certificates.cert-manager.io").items
    if not crds:
        output = studio["run"](expect_failure=True, hue_ingress_enabled=True, hue_ingress_host="hue.studio.test",
                               hue_ingress_tls_enabled=True, hue_ingress_tls_issuer_name="letsencrypt")
        assert "hue_ingress_tls_issuer_name: letsencrypt needs cert-manager" in " ".join(output.split())
