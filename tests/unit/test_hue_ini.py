"""The hue role's rendered configuration, through the real path: ansible-playbook runs the roles
flinksql.studio.studio and flinksql.studio.hue with studio_render_only (no cluster) and writes
every manifest to studio_render_dir; the ini files are parsed with configobj, as Hue does.

Each ansible-playbook run costs seconds, so the assertions are grouped per run, and the
preflight failure cases share one run (one inventory host per case).
"""
import base64
import json
import os
import subprocess
import textwrap

import pytest
import yaml
from configobj import ConfigObj

from tests.versions import REPO_ROOT

pytestmark = pytest.mark.slow

ANSIBLE_PLAYBOOK = REPO_ROOT / ".venv" / "bin" / "ansible-playbook"
PYTHON = REPO_ROOT / ".venv" / "bin" / "python"
PLAYBOOK = textwrap.dedent("""\
    - name: Studio and Hue
      hosts: all
      gather_facts: false
      roles:
        - flinksql.studio.studio
        - flinksql.studio.hue
""")
# Given on the command line so that render-only mode renders the Secrets too.
SECRETS = {
    "hue_secret_key": "sk-unit-Zq81oPlx",
    "hue_admin_password": "adm-unit-Yt42kWmv",
    "hue_database_password": "db-unit-Xr93jQns",
}
THREE_TENANTS = [{"name": "alpha"}, {"name": "beta", "namespace": "team-beta"},
                 {"name": "gamma", "gateway": {"default_catalog": "lake", "default_database": "raw"},
                  "hue": {"interpreter_name": "Gamma lake"}}]


def ansible_env(**extra):
    return dict(os.environ, ANSIBLE_CONFIG=str(REPO_ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
                ANSIBLE_CALLBACK_RESULT_FORMAT="json", **extra)


def run_playbook(tmp_path, extra_vars, inventory="localhost,", args=(), env=None, timeout=600,
                 playbook_text=PLAYBOOK):
    """Runs the studio + hue playbook; returns the CompletedProcess (stdout and stderr merged)."""
    playbook = tmp_path / "hue.yml"
    playbook.write_text(playbook_text)
    cmd = [str(ANSIBLE_PLAYBOOK), "-i", inventory, "-c", "local", str(playbook),
           "-e", "ansible_python_interpreter={0}".format(PYTHON), "-e", json.dumps(extra_vars), *args]
    return subprocess.run(cmd, cwd=REPO_ROOT, env=env or ansible_env(), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=timeout, check=False)


def render(tmp_path, playbook_text=PLAYBOOK, **extra_vars):
    out = tmp_path / "render"
    result = run_playbook(tmp_path, dict({"studio_render_only": True, "studio_render_dir": str(out)},
                                         **extra_vars), playbook_text=playbook_text)
    assert result.returncode == 0, result.stdout
    objects = {}
    for path in sorted(out.rglob("*.yaml")):
        obj = yaml.safe_load(path.read_text())
        objects[(obj["kind"], obj["metadata"]["name"])] = obj
    return objects, result.stdout


def ini_files(objects):
    """{file name: text} of the hue-config ConfigMap."""
    return objects[("ConfigMap", "hue-config")]["data"]


def parse_hue_conf(objects):
    """Merges the *.ini parts in sorted order, as Hue does with its conf dir."""
    merged = ConfigObj()
    for name, text in sorted(ini_files(objects).items()):
        if name.endswith(".ini"):
            merged.merge(ConfigObj(text.splitlines()))
    return merged


def flink_interpreters(conf):
    interpreters = conf["notebook"]["interpreters"]
    return {key: section for key, section in interpreters.items() if section.get("interface") == "flink"}


def secret_values(objects):
    values = []
    for (kind, dummy), obj in objects.items():
        if kind == "Secret":
            values += [base64.b64decode(v).decode() for v in obj.get("data", {}).values()]
    return values


def test_one_tenant_defaults(tmp_path):
    objects, output = render(tmp_path, **SECRETS)
    conf = parse_hue_conf(objects)

    flink = flink_interpreters(conf)
    assert list(flink) == ["flink"], "one tenant: the interpreter key is flink"
    assert flink["flink"]["name"] == "Flink"
    options = json.loads(flink["flink"]["options"])
    assert options == {"url": "http://analytics-sql-gateway.flink-studio-analytics.svc:8083",
                       "default_catalog": "default_catalog", "default_database": "default_database"}

    desktop = conf["desktop"]
    assert desktop["database"]["engine"] == "postgresql_psycopg2", "never SQLite"
    assert desktop["database"]["host"] == "hue-postgresql.flink-studio.svc"
    assert desktop["database"]["password_script"] == "cat /etc/hue/secrets/database_password"
    assert desktop["secret_key_script"] == "cat /etc/hue/secrets/secret_key"
    assert "password" not in desktop["database"] and "secret_key" not in desktop
    assert "metastore" in desktop["app_blacklist"] and "notebook" not in desktop["app_blacklist"]
    assert desktop["session"]["ttl"] == "28800"
    assert desktop["auth"]["backend"] == "desktop.auth.backend.AllowFirstUserDjangoBackend"

    # Secrets are only in Secrets.
    secrets = secret_values(objects)
    assert sorted(secrets) == sorted(SECRETS.values())
    for (kind, name), obj in objects.items():
        if kind != "Secret":
            text = yaml.safe_dump(obj)
            for value in SECRETS.values():
                assert value not in text, "{0} value found in {1}/{2}".format(value, kind, name)
    for value in SECRETS.values():
        assert value not in output, "a secret value was logged"

    # Server: restricted pod security, probes, conf dir of our own, migrations in a Job.
    deployment = objects[("Deployment", "hue")]
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 1001
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    for container in pod["containers"] + pod["initContainers"]:
        security = container["securityContext"]
        assert security["allowPrivilegeEscalation"] is False
        assert security["capabilities"] == {"drop": ["ALL"]}
    hue = pod["containers"][0]
    assert hue["readinessProbe"]["httpGet"]["path"] == "/desktop/debug/is_alive"
    assert hue["readinessProbe"]["httpGet"]["port"] == "http"
    assert hue["ports"] == [{"name": "http", "containerPort": 8888, "protocol": "TCP"}]
    assert {"name": "HUE_CONF_DIR", "value": "/etc/hue/conf"} in hue["env"]
    assert "migrate" not in " ".join(hue["command"])
    assert hue["resources"]["requests"] == {"cpu": "250m", "memory": "1Gi"}
    jobs = [obj for (kind, dummy), obj in objects.items() if kind == "Job"]
    assert len(jobs) == 1 and jobs[0]["metadata"]["name"].startswith("hue-migrate-")
    assert len(jobs[0]["metadata"]["name"]) == len("hue-migrate-") + 10
    assert "migrate --noinput" in jobs[0]["spec"]["template"]["spec"]["containers"][0]["command"][2]
    assert deployment["spec"]["template"]["metadata"]["annotations"]["flinksql.studio/migrations"] \
        == jobs[0]["metadata"]["name"]
    assert objects[("Service", "hue")]["spec"]["ports"][0]["port"] == 8888
    assert ("PodDisruptionBudget", "hue") not in objects, "no PDB for one replica"
    assert ("Ingress", "hue") not in objects

    statefulset = objects[("StatefulSet", "hue-postgresql")]
    pg_pod = statefulset["spec"]["template"]["spec"]
    assert pg_pod["securityContext"]["runAsUser"] == 999
    pg = pg_pod["containers"][0]
    assert pg["image"].startswith("docker.io/library/postgres:17.")
    assert {"name": "PGDATA", "value": "/var/lib/postgresql/data/pgdata"} in pg["env"]
    assert {"name": "POSTGRES_PASSWORD_FILE", "value": "/etc/postgresql-secret/password"} in pg["env"]
    assert "POSTGRES_PASSWORD" not in [e["name"] for e in pg["env"]]
    assert statefulset["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] == "5Gi"

    for obj in objects.values():
        labels = obj["metadata"]["labels"]
        assert labels["app.kubernetes.io/part-of"] == "flink-sql-studio"
        assert labels["app.kubernetes.io/managed-by"] == "flinksql.studio"
        assert labels["app.kubernetes.io/name"] in ("hue", "postgresql")


WITH_GATEWAYS = PLAYBOOK.replace("    - flinksql.studio.hue\n",
                                 "    - flinksql.studio.sql_gateway\n    - flinksql.studio.hue\n")
assert WITH_GATEWAYS != PLAYBOOK


def test_three_tenants_ingress_ldap_overrides(tmp_path):
    objects, dummy = render(
        tmp_path, playbook_text=WITH_GATEWAYS, studio_tenants=THREE_TENANTS, hue_replicas=3,
        hue_ingress_enabled=True, hue_ingress_host="sql.example.org", hue_ingress_class_name="nginx",
        hue_ingress_tls_enabled=True, hue_ingress_tls_issuer_name="letsencrypt",
        hue_auth_backend="ldap",
        hue_ldap={"url": "ldaps://ldap.example.org", "base_dn": "ou=people,dc=example,dc=org",
                  "bind_dn": "cn=hue,ou=apps,dc=example,dc=org", "bind_password_secret": "hue-ldap",
                  "user_filter": "(&(objectClass=person)(memberOf=cn=sql,ou=groups,dc=example,dc=org))"},
        hue_ini_overrides={"desktop": {"django_debug_mode": False, "custom": {"banner_top_html": "Hi, you"}},
                           "notebook": {"enable_query_builder": True}},
        hue_secret_key=SECRETS["hue_secret_key"])
    conf = parse_hue_conf(objects)

    flink = flink_interpreters(conf)
    assert sorted(flink) == ["flink-alpha", "flink-beta", "flink-gamma"]
    for key, section in flink.items():
        assert section["dialect"] == "flink" and section["interface"] == "flink"
    urls = {key: json.loads(section["options"])["url"] for key, section in flink.items()}
    assert urls == {"flink-alpha": "http://alpha-sql-gateway.flink-studio-alpha.svc:8083",
                    "flink-beta": "http://beta-sql-gateway.team-beta.svc:8083",
                    "flink-gamma": "http://gamma-sql-gateway.flink-studio-gamma.svc:8083"}
    # Each URL is the in-cluster DNS name and port of the Service the sql_gateway role renders.
    services = {obj["metadata"]["labels"].get("flinksql.studio/tenant"): obj for (kind, dummy), obj in objects.items()
                if kind == "Service" and obj["metadata"]["labels"].get("app.kubernetes.io/name") == "sql-gateway"}
    assert sorted(services) == ["alpha", "beta", "gamma"]
    for tenant, service in services.items():
        port = next(p["port"] for p in service["spec"]["ports"])
        assert urls["flink-" + tenant] == "http://{0}.{1}.svc:{2}".format(
            service["metadata"]["name"], service["metadata"]["namespace"], port)
    gamma = json.loads(flink["flink-gamma"]["options"])
    assert (gamma["default_catalog"], gamma["default_database"]) == ("lake", "raw")
    assert [flink[k]["name"] for k in sorted(flink)] == ["Flink (alpha)", "Flink (beta)", "Gamma lake"]

    # LDAP: DNs with commas stay single values (configobj would split unquoted ones into lists).
    ldap = conf["desktop"]["ldap"]
    assert ldap["base_dn"] == "ou=people,dc=example,dc=org"
    assert ldap["users"]["user_filter"] == "(&(objectClass=person)(memberOf=cn=sql,ou=groups,dc=example,dc=org))"
    assert ldap["bind_password_script"] == "cat /etc/hue/secrets/ldap_bind_password"
    assert conf["desktop"]["auth"]["backend"] == "desktop.auth.backend.LdapBackend"
    pod = objects[("Deployment", "hue")]["spec"]["template"]["spec"]
    sources = [s["secret"] for s in next(v for v in pod["volumes"] if v["name"] == "secrets")["projected"]["sources"]]
    assert {"name": "hue-ldap", "items": [{"key": "bind_password", "path": "ldap_bind_password"}]} in sources

    # Overrides are read last and win.
    assert sorted(ini_files(objects))[-1] == "zz-overrides.ini"
    assert conf["desktop"]["django_debug_mode"] == "false"
    assert conf["desktop"]["custom"]["banner_top_html"] == "Hi, you"
    assert conf["notebook"]["enable_query_builder"] == "true"
    assert conf["desktop"]["session"]["secure"] == "true", "TLS on: secure cookies"
    assert "sql.example.org" in conf["desktop"]["allowed_hosts"]

    # Three replicas: a PDB; TLS by cert-manager; no bootstrap admin with LDAP.
    assert objects[("Deployment", "hue")]["spec"]["replicas"] == 3
    assert objects[("PodDisruptionBudget", "hue")]["spec"]["minAvailable"] == 1
    ingress = objects[("Ingress", "hue")]["spec"]
    assert ingress["ingressClassName"] == "nginx"
    assert ingress["tls"] == [{"hosts": ["sql.example.org"], "secretName": "hue-tls"}]
    assert ingress["rules"][0]["host"] == "sql.example.org"
    certificate = objects[("Certificate", "hue")]
    assert certificate["apiVersion"] == "cert-manager.io/v1"
    assert certificate["spec"]["issuerRef"] == {"group": "cert-manager.io", "kind": "ClusterIssuer",
                                                "name": "letsencrypt"}
    assert certificate["spec"]["secretName"] == "hue-tls"
    job = next(obj for (kind, dummy), obj in objects.items() if kind == "Job")
    assert "createsuperuser" not in job["spec"]["template"]["spec"]["containers"][0]["command"][2]
    # Render-only without a database password: that Secret is left out, hue-secrets is rendered.
    assert ("Secret", "hue-postgresql") not in objects and ("Secret", "hue-secrets") in objects


# (case name, extra vars, text the failure message must contain)
PREFLIGHT_CASES = [
    ("latest_image", {"hue_image": "gethue/hue:latest"}, "hue_image: gethue/hue:latest is not allowed"),
    ("untagged_image", {"hue_image": "registry.local:5000/gethue/hue"},
     "hue_image: registry.local:5000/gethue/hue is not allowed"),
    ("hue_4_11", {"hue_image": "gethue/hue:4.11.0"}, "4.11.* speak the old Ververica gateway"),
    ("zero_replicas", {"hue_replicas": 0}, "hue_replicas: 0 is not allowed; expected an integer >= 1"),
    ("tls_without_source", {"hue_ingress_enabled": True, "hue_ingress_tls_enabled": True},
     "hue_ingress_tls_enabled: true is not allowed with hue_ingress_tls_secret_name: ''"),
    ("external_db_without_host", {"hue_database_mode": "external", "hue_database_password_secret": "pg"},
     "hue_database_host: '' is not allowed with hue_database_mode: external"),
    ("external_db_without_secret", {"hue_database_mode": "external", "hue_database_host": "pg.example.org"},
     "hue_database_password_secret: '' is not allowed with hue_database_mode: external"),
    ("sqlite", {"hue_database_mode": "sqlite"}, "hue_database_mode: sqlite is not allowed"),
    ("bad_memory", {"hue_resources": {"requests": {"cpu": "250m", "memory": "1Gb"}}},
     "hue_resources.requests.memory: 1Gb is not allowed; expected a Kubernetes quantity"),
    ("milli_memory", {"hue_resources": {"limits": {"memory": "2048m"}}},
     "hue_resources.limits.memory: 2048m is not allowed; m means milli"),
    ("bad_resource_key", {"hue_postgresql_resources": {"request": {"cpu": "1"}}},
     "hue_postgresql_resources.request: unknown key; allowed keys: requests, limits"),
    ("old_flink", {"studio_tenants": [{"name": "old", "session_cluster": {"flink_version": "v1_19"}}]},
     "Hue's Flink client needs REST API v3"),
    ("ldap_without_url", {"hue_auth_backend": "ldap", "hue_ldap": {"base_dn": "dc=x"}},
     "hue_ldap.url: '' is not allowed; expected ldaps://host:636"),
    ("overrides_not_sections", {"hue_ini_overrides": {"desktop": "x"}},
     "hue_ini_overrides: {'desktop': 'x'} is not allowed; expected a mapping of sections"),
]


def test_preflight_failures(tmp_path):
    inventory = tmp_path / "cases.yml"
    inventory.write_text(yaml.safe_dump({"all": {"hosts": {
        name: dict(extra, ansible_connection="local") for name, extra, dummy in PREFLIGHT_CASES}}}))
    out = tmp_path / "render"
    result = run_playbook(tmp_path, {"studio_render_only": True, "studio_render_dir": str(out)},
                          inventory=str(inventory), args=("--forks", "20"))
    failures = {}
    for line in result.stdout.splitlines():
        if line.startswith("fatal: [") and "=>" in line:
            host = line[len("fatal: ["):line.index("]")]
            failures[host] = json.loads(line.split("=>", 1)[1])["msg"]
    for name, dummy, expected in PREFLIGHT_CASES:
        assert name in failures, "case {0} did not fail:\n{1}".format(name, result.stdout)
        message = " ".join(failures[name].split())
        assert expected in message, "case {0}: {1!r} not in {2!r}".format(name, expected, message)
    assert not out.exists(), "preflight failures must stop before anything is written"
