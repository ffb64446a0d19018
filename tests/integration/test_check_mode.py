"""`site.yml --check --diff` on a cluster where the studio does not exist yet: it succeeds, says what
it would create, and creates nothing (objects are dry-run on the server where their namespace
exists; the rest are reported as "Would be created"; waits and smoke tests are skipped)."""
import json

import pytest

from tests.fixtures.render import VENV_BIN, run_playbook, standin_chart


@pytest.fixture(scope="module")
def check_run(kubeconfig):
    proc = run_playbook("site.yml", "-i", "localhost,", "-c", "local", "--check", "--diff",
                        "-e", "ansible_python_interpreter=%s" % (VENV_BIN / "python"),
                        "-e", "studio_kubeconfig=%s" % kubeconfig,
                        "-e", "operator_chart_path=%s" % standin_chart(),
                        "-e", "studio_namespace=cm-studio", "-e", "studio_operator_namespace=cm-operator",
                        "-e", json.dumps({"studio_tenants": [{"name": "cm", "namespace": "cm-tenant"}]}),
                        check=False)
    return proc


def test_check_mode_succeeds_and_reports_what_it_would_create(check_run):
    assert check_run.returncode == 0, check_run.stdout[-5000:]
    out = check_run.stdout
    assert "Would be created:" in out
    # "Would be created: Kind/name, ..." messages, unfolded (the YAML callback wraps long lines).
    would_create = " ".join(" ".join(out.split()).split("Would be created:")[1:])
    for expected in ("FlinkDeployment/cm", "Deployment/cm-sql-gateway", "Service/cm-sql-gateway", "NetworkPolicy/"):
        assert expected in would_create, "check mode did not report %s as to be created" % expected
    assert "the smoke test (Hue's call sequence) is skipped" in out
    assert "changed=0" not in out.split("PLAY RECAP")[-1]


def test_check_mode_created_nothing(check_run, kubectl):
    namespaces = json.loads(kubectl("get", "namespaces", "-o", "json").stdout)["items"]
    assert not [n["metadata"]["name"] for n in namespaces if n["metadata"]["name"].startswith("cm-")]
    releases = kubectl("get", "secrets", "-A", "-l", "owner=helm", "-o", "json").stdout
    assert "cm-operator" not in releases
