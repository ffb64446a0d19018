"""Preflight of the governance role: the checks filter (plugins/filter/governance_checks.py) and the
quota-fit arithmetic it relies on (plugins/module_utils/tenants.py, run by the studio role)."""
import copy

import pytest
import yaml

from ansible_collections.flinksql.studio.plugins.filter.governance_checks import (
    FilterModule,
    governance_cidr_problems,
    governance_egress_rule_problems,
    governance_pod_security_problems,
    governance_port_problems,
    governance_selector_problems,
)
from ansible_collections.flinksql.studio.plugins.module_utils.tenants import TenantError, resolve_tenants
from tests.versions import REPO_ROOT

SUPPORTED = ["v1_19", "v1_20", "v2_0", "v2_1", "v2_2"]


@pytest.mark.parametrize("cidrs", [[], ["10.0.0.10/32"], ["10.96.0.0/12", "fd00::1/128", "192.168.1.0/24"]])
def test_good_cidrs(cidrs):
    assert governance_cidr_problems(cidrs, "governance_apiserver_cidrs") == []


@pytest.mark.parametrize("cidrs, fragment", [
    (["10.0.0.10"], "[0]: '10.0.0.10' is not allowed; expected a CIDR with a prefix length"),
    (["10.0.0.300/32"], "[0]: '10.0.0.300/32' is not allowed; not a CIDR"),
    (["10.0.0.10/33"], "not a CIDR"),
    (["10.0.0.10/24"], "host bits are set, write 10.0.0.0/24 (or the address with /32)"),
    (["fd00::1/64"], "host bits are set, write fd00::/64 (or the address with /128)"),
    (["0.0.0.0/0"], "a /0 admits every address"),
    ("10.0.0.10/32", "expected a list of CIDRs"),
    ([10], "[0]: 10 is not allowed"),
])
def test_bad_cidrs_name_the_variable_and_the_fix(cidrs, fragment):
    problems = governance_cidr_problems(cidrs, "governance_apiserver_cidrs")
    assert len(problems) == 1 and problems[0].startswith("governance_apiserver_cidrs"), problems
    assert fragment in problems[0]


def test_empty_cidrs_can_be_refused():
    assert "non-empty list" in governance_cidr_problems([], "x", allow_empty=False)[0]


@pytest.mark.parametrize("selector", [{"kubernetes.io/metadata.name": "ingress-nginx"}, {"k8s-app": "kube-dns"},
                                      {"a.b/c_d.e": "v-1.2_3"}])
def test_good_selectors(selector):
    assert governance_selector_problems(selector, "s", False) == []


@pytest.mark.parametrize("selector, fragment", [
    ({}, "an empty selector selects every namespace"),
    ("ingress-nginx", "expected a mapping of label keys to values"),
    (["a"], "expected a mapping"),
    ({"Bad Key": "x"}, "label key 'Bad Key' is not allowed"),
    ({"k": "-starts-with-dash"}, "['k']: '-starts-with-dash' is not allowed; expected a label value"),
    ({"k": True}, "quoted in YAML"),
    ({"k": "x" * 64}, "at most 63"),
])
def test_bad_selectors(selector, fragment):
    problems = governance_selector_problems(selector, "governance_ingress_namespace_selector", False)
    assert problems and problems[0].startswith("governance_ingress_namespace_selector"), problems
    assert fragment in problems[0]


def test_an_empty_pod_selector_is_fine_where_allowed():
    assert governance_selector_problems({}, "governance_ingress_pod_selector") == []


def test_ports_and_levels_and_rules():
    assert governance_port_problems([443, 6443], "p") == []
    assert governance_port_problems([0, True, 70000], "p") == [
        "p[0]: 0 is not allowed; expected a port from 1 to 65535",
        "p[1]: True is not allowed; expected a port from 1 to 65535",
        "p[2]: 70000 is not allowed; expected a port from 1 to 65535"]
    assert governance_pod_security_problems("restricted", "latest") == []
    assert governance_pod_security_problems("strict", "1.34") == [
        "governance_pod_security_level: 'strict' is not allowed; expected one of privileged, baseline, restricted",
        "governance_pod_security_version: '1.34' is not allowed; expected latest or a Kubernetes minor version "
        "such as v1.34"]
    assert governance_egress_rule_problems([{"to": [{"ipBlock": {"cidr": "10.1.0.0/16"}}], "ports": []}], "r") == []
    assert "an empty rule would allow all egress" in governance_egress_rule_problems([{}], "r")[0]
    assert "keys to and/or ports" in governance_egress_rule_problems([{"from": []}], "r")[0]


def test_filters_are_registered():
    assert set(FilterModule().filters()) == {
        "governance_cidr_problems", "governance_selector_problems", "governance_port_problems",
        "governance_pod_security_problems", "governance_egress_rule_problems"}


# ---- quota fit (tenants.py _check_fits_quota): the arithmetic in the message -----------------

@pytest.fixture(scope="module")
def defaults():
    raw = yaml.safe_load((REPO_ROOT / "roles/studio/defaults/main.yml").read_text())["studio_tenant_defaults"]
    raw["session_cluster"]["image"] = raw["gateway"]["image"] = "flink:2.2.1-java17"
    raw["session_cluster"]["flink_version"] = "v2_2"
    return raw


def _resolve(tenants, defaults):
    return resolve_tenants(tenants, copy.deepcopy(defaults), "flink-studio", SUPPORTED, "v1_20",
                           ("kube-system", "flink-operator"))


def test_the_default_tenant_fits_its_quota(defaults):
    [tenant] = _resolve([{"name": "analytics"}], defaults)
    assert tenant["requests"]["cpu_millis"] == 3500          # JM 1000m + 2 TM x 1000m + gateway 500m
    assert tenant["requests"]["memory_bytes"] == 6720 << 20  # 1600Mi + 2 x 2048Mi + 1Gi
    assert tenant["requests"]["pods"] == 4


def test_an_oversized_tenant_is_stopped_with_the_arithmetic(defaults):
    oversized = {"name": "big", "quota": {"requests_cpu": "4", "requests_memory": "8Gi", "pods": 5},
                 "session_cluster": {"taskmanager": {"replicas": 4, "cpu": 1, "memory": "4g"}}}
    with pytest.raises(TenantError) as error:
        _resolve([{"name": "analytics"}, oversized], defaults)
    detail = "JobManager 1 x (1000m, 1600Mi) + TaskManager 4 x (1000m, 4Gi) + SQL Gateway 1 x (500m, 1Gi)"
    assert error.value.problems == [
        "studio_tenants[1].quota.requests_cpu: 4 does not fit what the tenant's pods request: %s = 5500m; "
        "raise the quota or shrink the session cluster" % detail,
        "studio_tenants[1].quota.requests_memory: 8Gi does not fit what the tenant's pods request: %s = 19008Mi; "
        "raise the quota or shrink the session cluster" % detail,
        "studio_tenants[1].quota.pods: 5 does not fit the tenant's 6 pods (%s)" % detail,
    ]


def test_a_disabled_quota_is_not_checked(defaults):
    [tenant] = _resolve([{"name": "free", "quota": {"enabled": False},
                          "session_cluster": {"taskmanager": {"replicas": 40}}}], defaults)
    assert tenant["requests"]["pods"] == 42
