"""Preflight rules of the tenant model (plugins/module_utils/tenants.py).

Each bad input must be refused with a message that names the variable path, shows the bad value
and says what is allowed. The playbook-level proof that nothing is written on such an error is in
tests/integration/test_preflight.py.
"""
import copy

import pytest
import yaml

from ansible_collections.flinksql.studio.plugins.module_utils.tenants import (
    TenantError,
    flink_memory_bytes,
    resolve_tenants,
)
from tests.versions import REPO_ROOT

SUPPORTED = ["v1_19", "v1_20", "v2_0", "v2_1", "v2_2"]


@pytest.fixture(scope="module")
def defaults():
    raw = yaml.safe_load((REPO_ROOT / "roles/studio/defaults/main.yml").read_text())["studio_tenant_defaults"]
    # The role templates these two from studio_flink_image / studio_flink_version.
    raw["session_cluster"]["image"] = raw["gateway"]["image"] = "flink:2.2.1-java17"
    raw["session_cluster"]["flink_version"] = "v2_2"
    return raw


def resolve(tenants, defaults, minimum="v1_20", namespace="flink-studio"):
    return resolve_tenants(tenants, copy.deepcopy(defaults), namespace, SUPPORTED, minimum,
                           ("kube-system", "default", "flink-operator"))


def test_a_name_is_all_a_tenant_needs(defaults):
    [tenant] = resolve([{"name": "analytics"}], defaults)
    assert tenant["namespace"] == "flink-studio-analytics"
    assert tenant["gateway"]["url"] == "http://analytics-sql-gateway.flink-studio-analytics.svc:8083"
    assert tenant["session_cluster"]["rest_address"] == "analytics-rest.flink-studio-analytics.svc"
    assert tenant["session_cluster"]["jobmanager"]["cpu_cores"] == 1.0
    # 1 JM (1 CPU, 1600 MiB) + 2 TM (1 CPU, 2 GiB) + gateway (500m, 1 GiB)
    assert tenant["requests"]["cpu_millis"] == 3500
    assert tenant["requests"]["memory_bytes"] == (1600 + 2 * 2048 + 1024) * 2**20
    assert tenant["requests"]["pods"] == 4


def test_overrides_merge_key_by_key(defaults):
    [tenant] = resolve([{"name": "etl", "namespace": "team-etl",
                         "session_cluster": {"taskmanager": {"replicas": 5}}}], defaults)
    assert tenant["namespace"] == "team-etl"
    assert tenant["session_cluster"]["taskmanager"]["replicas"] == 5
    assert tenant["session_cluster"]["taskmanager"]["memory"] == "2048m"  # default kept
    assert defaults["session_cluster"]["taskmanager"]["replicas"] == 2  # defaults untouched


def test_three_tenants_get_three_namespaces(defaults):
    tenants = resolve([{"name": n} for n in ("a", "b", "c")], defaults)
    assert [t["namespace"] for t in tenants] == ["flink-studio-a", "flink-studio-b", "flink-studio-c"]


def test_native_mode_does_not_count_taskmanagers(defaults):
    [tenant] = resolve([{"name": "x", "session_cluster": {"mode": "native"}}], defaults)
    assert tenant["requests"]["pods"] == 2


@pytest.mark.parametrize("tenants, path, expected", [
    ([], "studio_tenants", "non-empty list"),
    ("analytics", "studio_tenants", "non-empty list"),
    (["analytics"], "studio_tenants[0]", "expected a mapping"),
    ([{"name": "Analytics"}], "studio_tenants[0].name", "DNS-1123"),
    ([{"name": "team_a"}], "studio_tenants[0].name", "DNS-1123"),
    ([{"name": "1team"}], "studio_tenants[0].name", "starts with a letter"),
    ([{"name": "a" * 46}], "studio_tenants[0].name", "at most 45"),
    ([{"name": "ends-"}], "studio_tenants[0].name", "DNS-1123"),
    ([{}], "studio_tenants[0].name", "DNS-1123"),
    ([{"name": "a"}, {"name": "a"}], "studio_tenants[1].name", "unique; studio_tenants[0] has it"),
    ([{"name": "a", "namespace": "shared"}, {"name": "b", "namespace": "shared"}],
     "studio_tenants[1].namespace", "own namespace"),
    ([{"name": "a", "namespace": "kube-system"}], "studio_tenants[0].namespace", "must differ"),
    ([{"name": "a", "namespace": "flink-studio"}], "studio_tenants[0].namespace", "must differ"),
    ([{"name": "a", "namespace": "Bad_NS"}], "studio_tenants[0].namespace", "DNS-1123 label"),
    ([{"name": "a", "colour": "red"}], "studio_tenants[0].colour", "unknown key 'colour'"),
    ([{"name": "a", "session_cluster": {"paralelism": 4}}], "studio_tenants[0].session_cluster.paralelism",
     "unknown key"),
    ([{"name": "a", "gateway": {"replica": 2}}], "studio_tenants[0].gateway.replica", "unknown key"),
    ([{"name": "a", "session_cluster": {"flink_version": "v1_18"}}],
     "studio_tenants[0].session_cluster.flink_version", "supports v1_19, v1_20, v2_0, v2_1, v2_2"),
    ([{"name": "a", "session_cluster": {"flink_version": "v9_9"}}],
     "studio_tenants[0].session_cluster.flink_version", "supports"),
    ([{"name": "a", "session_cluster": {"flink_version": "v1_19"}}],
     "studio_tenants[0].session_cluster.flink_version", "REST API v3"),
    ([{"name": "a", "session_cluster": {"mode": "application"}}], "studio_tenants[0].session_cluster.mode",
     "standalone"),
    ([{"name": "a", "session_cluster": {"jobmanager": {"memory": "2Gi"}}}],
     "studio_tenants[0].session_cluster.jobmanager.memory", "Flink memory syntax"),
    ([{"name": "a", "session_cluster": {"taskmanager": {"memory": "lots"}}}],
     "studio_tenants[0].session_cluster.taskmanager.memory", "Flink memory syntax"),
    ([{"name": "a", "session_cluster": {"taskmanager": {"cpu": "two"}}}],
     "studio_tenants[0].session_cluster.taskmanager.cpu", "CPU quantity"),
    ([{"name": "a", "session_cluster": {"jobmanager": {"cpu": -1}}}],
     "studio_tenants[0].session_cluster.jobmanager.cpu", "positive"),
    ([{"name": "a", "session_cluster": {"taskmanager": {"replicas": 0}}}],
     "studio_tenants[0].session_cluster.taskmanager.replicas", "integer"),
    ([{"name": "a", "session_cluster": {"taskmanager": {"slots": "4"}}}],
     "studio_tenants[0].session_cluster.taskmanager.slots", "integer"),
    ([{"name": "a", "session_cluster": {"jobmanager": {"replicas": 2}, "ha": {"enabled": False}}}],
     "studio_tenants[0].session_cluster.jobmanager.replicas", "needs ha.enabled"),
    ([{"name": "a", "session_cluster": {"jobmanager": {"replicas": 2}}}],
     "studio_tenants[0].session_cluster.ha.volume.access_mode", "ReadWriteMany"),
    ([{"name": "a", "session_cluster": {"jobmanager": {"replicas": 2},
                                        "ha": {"volume": {"enabled": False}, "storage_dir": "file:///ha"}}}],
     "studio_tenants[0].session_cluster.ha.storage_dir", "local to each JobManager"),
    ([{"name": "a", "session_cluster": {"ha": {"volume": {"enabled": False}}}}],
     "studio_tenants[0].session_cluster.ha.storage_dir", "durable shared storage"),
    ([{"name": "a", "session_cluster": {"ha": {"volume": {"enabled": False}, "storage_dir": "/data/ha"}}}],
     "studio_tenants[0].session_cluster.ha.storage_dir", "durable shared storage"),
    ([{"name": "a", "session_cluster": {"ha": {"storage_dir": "s3://b/ha"}}}],
     "studio_tenants[0].session_cluster.ha.storage_dir", "leave empty"),
    ([{"name": "a", "session_cluster": {"ha": {"enabled": "yes"}}}],
     "studio_tenants[0].session_cluster.ha.enabled", "true or false"),
    ([{"name": "a", "session_cluster": {"flink_configuration": {"kubernetes.cluster-id": "x"}}}],
     "studio_tenants[0].session_cluster.flink_configuration['kubernetes.cluster-id']", "operator sets"),
    ([{"name": "a", "gateway": {"replicas": 2}}], "studio_tenants[0].gateway.replicas", "sessions live"),
    ([{"name": "a", "gateway": {"memory": "2048m"}}], "studio_tenants[0].gateway.memory", "2.048 bytes"),
    ([{"name": "a", "gateway": {"idle_timeout": "ten minutes"}}], "studio_tenants[0].gateway.idle_timeout",
     "Flink duration"),
    ([{"name": "a", "quota": {"pods": 0}}], "studio_tenants[0].quota.pods", "integer"),
    ([{"name": "a", "quota": {"storage": "big"}}], "studio_tenants[0].quota.storage", "storage quantity"),
    ([{"name": "a", "quota": {"requests_cpu": "2"}}], "studio_tenants[0].quota.requests_cpu",
     "JobManager 1 x (1000m, 1600Mi) + TaskManager 2 x (1000m, 2Gi) + SQL Gateway 1 x (500m, 1Gi) = 3500m"),
    ([{"name": "a", "quota": {"requests_memory": "4Gi"}}], "studio_tenants[0].quota.requests_memory",
     "= 6720Mi; raise the quota"),
    ([{"name": "a", "session_cluster": {"taskmanager": {"replicas": 30}}}], "studio_tenants[0].quota.pods",
     "does not fit the tenant's 32 pods"),
])
def test_bad_tenants_are_refused_with_the_path_value_and_rule(defaults, tenants, path, expected):
    with pytest.raises(TenantError) as caught:
        resolve(tenants, defaults)
    message = str(caught.value)
    assert message.startswith("studio_tenants is invalid; nothing was changed")
    lines = [line for line in message.splitlines() if line.startswith("- %s" % path)]
    assert lines, "no problem reported for %s in:\n%s" % (path, message)
    assert any(expected in line for line in lines), message


def test_every_problem_is_reported_at_once(defaults):
    with pytest.raises(TenantError) as caught:
        resolve([{"name": "A"}, {"name": "b", "session_cluster": {"mode": "x", "jobmanager": {"memory": "1Gi"}}}],
                defaults)
    assert len(caught.value.problems) == 3


def test_a_derived_namespace_that_is_too_long_says_so(defaults):
    with pytest.raises(TenantError, match=r"studio_tenants\[0\]\.namespace: .* may be too long"):
        resolve([{"name": "a" * 45}], defaults, namespace="flink-studio-with-a-long-prefix")


def test_hue_minimum_is_not_applied_without_hue(defaults):
    [tenant] = resolve([{"name": "a", "session_cluster": {"flink_version": "v1_19"}}], defaults, minimum=None)
    assert tenant["session_cluster"]["flink_version"] == "v1_19"


def test_bad_studio_namespace(defaults):
    with pytest.raises(TenantError, match=r"studio_namespace: 'Flink Studio' is not allowed"):
        resolve([{"name": "a", "namespace": "a"}], defaults, namespace="Flink Studio")


@pytest.mark.parametrize("text, expected", [
    ("2048m", 2048 * 2**20), ("2g", 2 * 2**30), ("1536 mb", 1536 * 2**20), ("1.5g", int(1.5 * 2**30)),
    ("2Gi", None), ("", None), ("-1m", None),
])
def test_flink_memory_syntax(text, expected):
    assert flink_memory_bytes(text) == expected
