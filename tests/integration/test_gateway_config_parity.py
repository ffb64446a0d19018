"""Config parity: the gateway configuration the sql_gateway role renders boots the real Flink SQL
Gateway, and Hue's call sequence (flinksql.studio.sql_gateway_smoke) passes against it.

The ConfigMap's config.yaml is used as it is, with only what cannot hold on this machine replaced:
addresses (Service DNS names -> 127.0.0.1 and a free port, the JobManager REST address -> the real
JobManager of the `flink_gateway` fixture) and the catalog-store path (the PVC mount -> a temp dir).
Every other key (session timeouts, limits, execution.target, the catalog store kind) is the rendered
value. Hue's interpreter for that tenant must point at the gateway Service's in-cluster address.

Not proven here: the container image's own scripts and the pod's read-only root filesystem.
"""
import json
import urllib.request

import configobj
import pytest
import yaml

from tests.fixtures.gateway import read_flink_config, start_gateway
from tests.integration.test_sql_gateway_smoke import run_module

pytestmark = pytest.mark.gateway


def _objects(rendered, kind, namespace=None):
    return [o for o in rendered.values()
            if o["kind"] == kind and (namespace is None or o["metadata"].get("namespace") == namespace)]


@pytest.fixture(scope="module")
def tenant_gateway(rendered_three_tenants, flink_gateway, tmp_path_factory):
    """The real gateway started from the `fraud` tenant's rendered ConfigMap."""
    _, rendered = rendered_three_tenants
    [configmap] = [o for o in _objects(rendered, "ConfigMap", "team-fraud")
                   if o["metadata"]["name"] == "fraud-sql-gateway"]
    rendered_conf = yaml.safe_load(configmap["data"]["config.yaml"])
    conf_dir = tmp_path_factory.mktemp("fraud-gateway-conf")
    catalogs = tmp_path_factory.mktemp("fraud-catalogs")
    conf = dict(rendered_conf)
    conf["table.catalog-store.file.path"] = str(catalogs)
    (conf_dir / "config.yaml").write_text(yaml.safe_dump(conf))
    (conf_dir / "log4j-console.properties").write_text(configmap["data"]["log4j-console.properties"])
    gateway = start_gateway(conf_dir, [], flink_gateway.jm_rest, port="auto",
                            log_dir=tmp_path_factory.mktemp("fraud-gateway-log"))
    try:
        yield gateway, rendered_conf, conf_dir, catalogs
    finally:
        gateway.stop()


def test_rendered_configuration_targets_the_tenant_session_cluster(tenant_gateway):
    _, rendered_conf, _, _ = tenant_gateway
    assert rendered_conf["execution.target"] == "remote"
    assert rendered_conf["rest.address"] == "fraud-rest.team-fraud.svc"
    assert rendered_conf["rest.port"] == 8081
    assert rendered_conf["sql-gateway.endpoint.rest.port"] == 8083
    assert rendered_conf["table.catalog-store.kind"] == "file"
    assert not any(key.startswith("high-availability") for key in rendered_conf)


def test_the_rendered_keys_are_what_the_real_gateway_runs_with(tenant_gateway):
    gateway, rendered_conf, conf_dir, _ = tenant_gateway
    effective = read_flink_config(conf_dir)
    for key in ("sql-gateway.session.idle-timeout", "sql-gateway.session.check-interval",
                "sql-gateway.session.max-num", "table.catalog-store.kind"):
        assert str(effective[key]) == str(rendered_conf[key])
    with urllib.request.urlopen(gateway.url + "/v3/info", timeout=10) as response:
        info = json.loads(response.read())
    assert info["productName"] == "Apache Flink"


def test_hue_call_sequence_passes_against_the_rendered_gateway(tenant_gateway, tmp_path):
    gateway, _, _, _ = tenant_gateway
    result = run_module(tmp_path, {"url": gateway.url, "statement": "SELECT 41 + 1", "timeout": 180})
    assert not result.get("failed"), result
    assert result["rows"] == [[42]]
    assert "v3" in result["api_versions"]


def test_catalogs_survive_a_gateway_restart(tenant_gateway, flink_gateway, tmp_path):
    """The catalog store the role configures keeps CREATE CATALOG across a restart of the gateway."""
    gateway, _, conf_dir, catalogs = tenant_gateway
    created = run_module(tmp_path, {"url": gateway.url, "timeout": 180,
                                    "statement": "CREATE CATALOG parity_cat WITH ('type' = 'generic_in_memory')"})
    assert not created.get("failed"), created
    assert any(catalogs.iterdir()), "the catalog store wrote nothing"
    gateway.stop()
    again = start_gateway(conf_dir, [], flink_gateway.jm_rest, port="auto", log_dir=tmp_path / "restart-log")
    try:
        listed = run_module(tmp_path, {"url": again.url, "statement": "SHOW CATALOGS", "timeout": 180})
        assert ["parity_cat"] in listed["rows"], listed
    finally:
        again.stop()


def test_hue_interpreter_points_at_the_rendered_gateway_service(rendered_three_tenants):
    _, rendered = rendered_three_tenants
    [hue_config] = [o for o in _objects(rendered, "ConfigMap", "flink-studio") if "40-notebook.ini" in o.get("data", {})]
    notebook = configobj.ConfigObj(hue_config["data"]["40-notebook.ini"].splitlines())
    interpreters = notebook["notebook"]["interpreters"]
    urls = {json.loads(block["options"])["url"] for block in interpreters.values()}
    services = {"http://%s.%s.svc:%d" % (s["metadata"]["name"], s["metadata"]["namespace"], s["spec"]["ports"][0]["port"])
                for s in _objects(rendered, "Service") if s["metadata"]["labels"].get("app.kubernetes.io/name") == "sql-gateway"}
    assert urls == services
    assert "http://fraud-sql-gateway.team-fraud.svc:8083" in urls
