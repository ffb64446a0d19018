"""Bad input fails in preflight, before anything is written, with a message that names the variable.

One site.yml run against the local control plane, one inventory host per case (each host gets its
own bad variables and its own studio namespace), then the API server is asked whether any object of
any case exists. The unit tests (tests/unit/test_tenants.py) cover the tenant rules in depth; this
proves the playbook path: site.yml's pre_tasks run every role's preflight before the first write.
"""
import json

import pytest
import yaml

from tests.fixtures.render import VENV_BIN, run_playbook, standin_chart

GOOD_TENANT = {"name": "pf"}
CASES = {
    # tenant model (studio role)
    "tenant_name_uppercase": ({"studio_tenants": [{"name": "Team"}]}, "studio_tenants[0].name: 'Team' is not allowed"),
    "tenant_name_too_long": ({"studio_tenants": [{"name": "a" * 46}]}, "at most 45 characters"),
    "tenant_unknown_key": ({"studio_tenants": [{"name": "pf", "replicas": 3}]}, "studio_tenants[0].replicas: unknown key"),
    "tenant_duplicate_namespace": ({"studio_tenants": [{"name": "a", "namespace": "x-ns"}, {"name": "b", "namespace": "x-ns"}]},
                                   "studio_tenants[1].namespace: 'x-ns' is not allowed; each tenant needs its own namespace"),
    "flink_version_unsupported": ({"studio_flink_version": "v1_17"}, "the pinned Flink operator supports"),
    "flink_version_too_old_for_hue": ({"studio_flink_version": "v1_19"}, "Hue's Flink client needs REST API v3"),
    "memory_kubernetes_syntax": ({"studio_tenants": [{"name": "pf", "session_cluster": {"taskmanager": {"memory": "2Gi"}}}]},
                                 "session_cluster.taskmanager.memory: '2Gi' is not allowed"),
    "cpu_malformed": ({"studio_tenants": [{"name": "pf", "session_cluster": {"jobmanager": {"cpu": "1 core"}}}]},
                      "session_cluster.jobmanager.cpu: '1 core' is not allowed"),
    "ha_several_jm_rwo": ({"studio_tenants": [{"name": "pf", "session_cluster": {"jobmanager": {"replicas": 2}}}]},
                          "needs ReadWriteMany"),
    "ha_off_several_jm": ({"studio_tenants": [{"name": "pf", "session_cluster": {"jobmanager": {"replicas": 2},
                                                                                 "ha": {"enabled": False}}}]},
                          "more than one JobManager needs ha.enabled: true"),
    "gateway_two_replicas": ({"studio_tenants": [{"name": "pf", "gateway": {"replicas": 2}}]}, "gateway sessions live"),
    "quota_too_small": ({"studio_tenants": [{"name": "pf", "quota": {"requests_cpu": "1"}}]},
                        "quota.requests_cpu: 1 does not fit"),
    "forbidden_flink_key": ({"studio_tenants": [{"name": "pf", "session_cluster": {
        "flink_configuration": {"kubernetes.cluster-id": "x"}}}]}, "the operator sets kubernetes.cluster-id itself"),
    "studio_namespace_invalid": ({"studio_namespace": "Flink_Studio"}, "studio_namespace: 'Flink_Studio' is not allowed"),
    "operator_version_unknown": ({"studio_operator_version": "9.9.9"}, "studio_operator_version: 9.9.9 is not allowed"),
    # role settings
    "operator_webhook_bad": ({"operator_webhook": "sometimes"}, "operator_webhook=sometimes (want auto, true or false)"),
    "operator_chart_version_bad": ({"operator_chart_version": "latest"}, "operator_chart_version=latest (want X.Y.Z)"),
    "operator_chart_path_missing": ({"operator_chart_path": "/nonexistent/chart.tgz"},
                                    "operator_chart_path: /nonexistent/chart.tgz does not exist"),
    "pod_security_level_bad": ({"namespace_pod_security_levels": {"studio": "strict", "tenant": "restricted",
                                                                  "operator": "baseline"}},
                               "namespace_pod_security_levels="),
    "wait_timeout_bad": ({"session_cluster_wait_timeout": 0}, "session_cluster_wait_timeout=0 (want seconds > 0)"),
    "wait_flag_bad": ({"session_cluster_wait": "sometimes"}, "session_cluster_wait=sometimes (want true or false)"),
    "smoke_flag_bad": ({"sql_gateway_smoke": "maybe"}, "sql_gateway_smoke=maybe (want true or false)"),
    "smoke_url_unknown_tenant": ({"sql_gateway_smoke_urls": {"nobody": "http://127.0.0.1:1"}},
                                 "sql_gateway_smoke_urls="),
    "smoke_api_version_bad": ({"sql_gateway_smoke_api_version": "3"}, "sql_gateway_smoke_api_version=3"),
    "hue_tls_without_source": ({"hue_ingress_enabled": True, "hue_ingress_tls_enabled": True}, "hue_ingress_tls"),
    "hue_latest_image": ({"hue_image": "docker.io/gethue/hue:latest"}, "latest"),
    "hue_replicas_bad": ({"hue_replicas": "two"}, "hue_replicas: two is not allowed; expected an integer >= 1"),
    "hue_workers_bad": ({"hue_gunicorn_workers": "three"}, "hue_session_ttl/hue_gunicorn_workers: 28800/three"),
    "governance_cidr_bad": ({"governance_apiserver_cidrs": ["10.0.0.1/24"]}, "host bits are set"),
}


@pytest.fixture(scope="module")
def preflight_run(kubeconfig, tmp_path_factory):
    work = tmp_path_factory.mktemp("preflight")
    hosts = {}
    for index, (case, (variables, _expected)) in enumerate(sorted(CASES.items())):
        host_vars = {"ansible_connection": "local", "ansible_python_interpreter": str(VENV_BIN / "python"),
                     "studio_kubeconfig": kubeconfig, "studio_namespace": "pf-%d" % index,
                     "studio_operator_namespace": "pf-%d-operator" % index,
                     "studio_tenants": [dict(GOOD_TENANT, namespace="pf-%d-tenant" % index)],
                     "operator_chart_path": standin_chart()}
        host_vars.update(variables)
        hosts[case] = host_vars
    inventory = work / "inventory.yml"
    inventory.write_text(yaml.safe_dump({"all": {"hosts": hosts}}))
    proc = run_playbook("site.yml", "-i", str(inventory), "-e", "studio_target_hosts=all", "-f", "8",
                        check=False, extra_env={"ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.json"})
    return proc, json.loads(proc.stdout[proc.stdout.index("{"):])


def _failures(result):
    """host -> failure messages, from the json callback's output."""
    messages = {}
    for play in result["plays"]:
        for task in play["tasks"]:
            for host, outcome in task["hosts"].items():
                if outcome.get("failed"):
                    messages.setdefault(host, []).append(json.dumps(outcome.get("msg", "")) + json.dumps(
                        [r.get("msg", "") for r in outcome.get("results", []) if r.get("failed")]))
    return messages


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_fails_in_preflight_with_the_variable_named(preflight_run, case):
    proc, result = preflight_run
    assert proc.returncode != 0
    failures = _failures(result)
    assert case in failures, "%s did not fail at all" % case
    expected = CASES[case][1]
    text = " ".join(failures[case]).replace("\\\"", "\"")
    assert expected in text, "%s failed without %r:\n%s" % (case, expected, text[:2000])


def test_nothing_was_written_for_any_case(preflight_run, kubectl):
    """No namespace (studio, operator or tenant) of any case exists: the first write of site.yml is a namespace."""
    namespaces = json.loads(kubectl("get", "namespaces", "-o", "json").stdout)["items"]
    leaked = [n["metadata"]["name"] for n in namespaces if n["metadata"]["name"].startswith("pf-")]
    assert not leaked, "preflight failures still created namespaces: %s" % leaked


def test_booleans_given_as_key_value_extra_vars_pass_preflight(tmp_path):
    """`-e sql_gateway_smoke=false` arrives as the string "false" (as from AWX surveys and shells):
    preflight reads it as the `bool` filter does instead of refusing it; numbers likewise (Hue's port,
    session lifetime and workers were refused as strings until the whole_number test). Only the pre_tasks (tagged
    always) run, rendering only: nothing talks to a cluster."""
    flags = {"sql_gateway_smoke": "false", "sql_gateway_smoke_job_check": "no", "session_cluster_wait": "False",
             "session_cluster_allow_restart": "off", "hue_replicas": "2", "hue_pdb_min_available": "1",
             "hue_database_port": "5433", "hue_session_ttl": "3600", "hue_gunicorn_workers": "3"}
    args = [arg for key, value in flags.items() for arg in ("-e", "%s=%s" % (key, value))]
    proc = run_playbook("site.yml", "-i", "localhost,", "-c", "local", "--tags", "preflight-only",
                        "-e", "ansible_python_interpreter=%s" % (VENV_BIN / "python"),
                        "-e", "studio_render_only=true", "-e", "studio_render_dir=%s" % tmp_path,
                        "-e", "operator_chart_path=%s" % standin_chart(), *args, check=False)
    assert proc.returncode == 0, proc.stdout[-4000:]
    for check in ("Check the SQL gateway settings", "Check the session cluster settings", "Check the number of Hue replicas",
                  "Check the database port, name and user", "Check the session lifetime and workers"):
        assert check in proc.stdout, "%s did not run" % check


@pytest.mark.parametrize("keep_data, accepted", [("yes", True), ("False", True), ("1", True), ("maybe", False)])
def test_teardown_reads_keep_data_like_the_other_roles(tmp_path, keep_data, accepted):
    """teardown_keep_data given as key=value is a string; teardown accepts the same boolean words as
    the deploy roles (it accepted only "true"/"false", so `-e teardown_keep_data=yes` was refused)
    and refuses anything else by name. Only teardown.yml's preflights run: no cluster is involved."""
    proc = run_playbook("teardown.yml", "-i", "localhost,", "-c", "local", "--tags", "preflight-only",
                        "-e", "ansible_python_interpreter=%s" % (VENV_BIN / "python"),
                        "-e", "teardown_confirm=true", "-e", "teardown_keep_data=%s" % keep_data, check=False)
    assert "Check the teardown settings" in proc.stdout, proc.stdout[-4000:]
    if accepted:
        assert proc.returncode == 0, proc.stdout[-4000:]
    else:
        assert proc.returncode != 0 and "teardown_keep_data=maybe (want a boolean)" in proc.stdout, proc.stdout[-4000:]
