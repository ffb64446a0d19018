"""Issue 6, proof 5: site.yml runs with a ServiceAccount token bound only to what docs/rbac.md
documents (docs/rbac/studio-deployer.yaml), and fails clearly with one permission removed.

The operator role is skipped (`--skip-tags operator`): installing the operator's CRDs and
cluster-wide RBAC is documented as cluster-admin work. The operator's part is played by the
stand-in (hack/operator_standin.py) with the real CRDs; the smoke step talks to the real Flink SQL
Gateway on 127.0.0.1 (kwok pods serve nothing)."""
import json
import re
import uuid

import pytest

from tests.fixtures.rbac import service_account_kubeconfig
from tests.fixtures.render import VENV_BIN, run_playbook
from tests.versions import REPO_ROOT

pytestmark = [pytest.mark.cluster, pytest.mark.slow]
RBAC_FILE = REPO_ROOT / "docs" / "rbac" / "studio-deployer.yaml"


def _site(kubeconfig, name, gateway_url):
    studio = "rb-studio-%s" % name
    extra = {"studio_kubeconfig": kubeconfig, "studio_namespace": studio,
             "studio_tenants": [{"name": name, "namespace": "rb-%s" % name}],
             "sql_gateway_smoke_urls": {name: gateway_url},
             # The operator release (which makes each watched namespace's flink ServiceAccount) is
             # not touched in this mode, so the namespace role makes it (docs/rbac.md).
             "namespace_create_flink_rbac": True,
             # empty: governance reads the API server's addresses (the Role in `default`)
             "governance_apiserver_cidrs": []}
    return run_playbook("site.yml", "-i", "localhost,", "--skip-tags", "operator",
                        "-e", "ansible_python_interpreter=%s" % (VENV_BIN / "python"), "-e", json.dumps(extra),
                        check=False, timeout=1200)


def _cleanup(kubectl, cleanup, name):
    for kind, obj in cleanup + [("namespace", "rb-studio-%s" % name), ("namespace", "rb-%s" % name)]:
        kubectl("delete", kind, obj, "--wait=false", "--ignore-not-found")


def test_site_runs_with_only_the_documented_permissions(kubeconfig, kubectl, operator_standin, flink_gateway,
                                                        tmp_path):
    path, cleanup = service_account_kubeconfig(kubectl, kubeconfig, tmp_path, RBAC_FILE)
    name = "r%s" % uuid.uuid4().hex[:5]
    try:
        run = _site(path, name, flink_gateway.url)
        assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
        assert "forbidden" not in run.stdout.lower(), run.stdout[-6000:]
        # It really deployed: the session cluster became ready, the gateway answered Hue's sequence.
        fd = json.loads(kubectl("get", "flinkdeployment", name, "-n", "rb-%s" % name, "-o", "json").stdout)
        assert fd["status"]["jobManagerDeploymentStatus"] == "READY"
        hue = json.loads(kubectl("get", "deployment", "-n", "rb-studio-%s" % name, "-l",
                                 "app.kubernetes.io/name=hue", "-o", "json").stdout)["items"]
        assert hue and hue[0]["status"].get("availableReplicas") == 1
    finally:
        _cleanup(kubectl, cleanup, name)


def test_site_fails_clearly_without_one_permission(kubeconfig, kubectl, operator_standin, flink_gateway, tmp_path):
    path, cleanup = service_account_kubeconfig(kubectl, kubeconfig, tmp_path, RBAC_FILE,
                                               drop=("flinkdeployments", "patch"))
    name = "r%s" % uuid.uuid4().hex[:5]
    try:
        run = _site(path, name, flink_gateway.url)
        output = run.stdout + run.stderr
        assert run.returncode != 0
        assert "Apply the objects of session-cluster" in output, output[-4000:]
        # The API server's words (quotes escaped once or twice by the callback's rendering).
        assert re.search(r'cannot patch resource [\\"]*flinkdeployments[\\"]* in API group', output), output[-4000:]
        assert "PLAY RECAP" in output and "failed=1" in output
    finally:
        _cleanup(kubectl, cleanup, name)
