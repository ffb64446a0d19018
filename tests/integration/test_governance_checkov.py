"""Proof 3 of issue 6: checkov on the manifests every role renders (site.yml, render-only) finds
no failed check without a written justification. A justified exception is a skip annotation on the
object, `checkov.io/skip<N>: CKV_K8S_<id>=<reason>`, and the reason must not be empty.

One test per rendered component (the directory apply.yml writes), so a failure names the role.
Needs hack/scan-venv.sh (checkov).
"""
import json
import subprocess

import pytest

from tests.policy import helpers
from tests.versions import REPO_ROOT

pytestmark = pytest.mark.slow
NO_REASON = {"", "no comment provided"}


@pytest.fixture(scope="module")
def checkov_results(tmp_path_factory):
    setup = subprocess.run(["bash", str(REPO_ROOT / "hack" / "scan-venv.sh"), "checkov"],
                           capture_output=True, text=True, timeout=900, check=False)
    assert setup.returncode == 0, "hack/scan-venv.sh checkov failed:\n" + setup.stderr
    rendered = helpers.render_studio()
    result = subprocess.run(
        [str(helpers.SCAN_ROOT / "checkov" / "bin" / "checkov"), "-d", str(rendered.directory),
         "--framework", "kubernetes", "--output", "json", "--quiet", "--skip-download"],
        capture_output=True, text=True, timeout=600, check=False,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path_factory.mktemp("checkov-home"))})
    assert result.returncode in (0, 1), "checkov failed (rc=%d):\n%s" % (result.returncode, result.stderr[-3000:])
    reports = json.loads(result.stdout) if result.stdout.strip() else []
    reports = reports if isinstance(reports, list) else [reports]
    by_component = {"_summaries": [r.get("summary", {}) for r in reports if isinstance(r, dict)]}
    for report in reports:
        results = report.get("results", {}) if isinstance(report, dict) else {}
        for outcome in ("failed_checks", "skipped_checks", "passed_checks"):
            for check in results.get(outcome, []):
                component = check["file_path"].strip("/").split("/")[0]
                by_component.setdefault(component, {}).setdefault(outcome, []).append(check)
    return rendered, by_component


def _components():
    # Every component apply.yml may write; those not rendered in a run are skipped, not failed.
    return ["governance-network-policies", "governance-quotas", "governance-pod-security", "namespaces",
            "session-cluster", "sql-gateway", "hue", "hue-server", "hue-migrations", "flink-rbac", "operator"]


def test_checkov_read_every_rendered_manifest(checkov_results):
    _, by_component = checkov_results
    summaries = by_component["_summaries"]
    assert summaries, "checkov reported nothing"
    assert sum(s.get("parsing_errors", 0) for s in summaries) == 0, summaries
    assert sum(s.get("passed", 0) for s in summaries) > 0, summaries


@pytest.mark.parametrize("component", _components())
def test_no_unjustified_checkov_failure(checkov_results, component):
    rendered, by_component = checkov_results
    if not (rendered.directory / component).is_dir():
        pytest.skip("%s renders nothing in this configuration" % component)
    checks = by_component.get(component, {})
    failed = ["%s %s (%s): %s" % (c["check_id"], c["resource"], c["file_path"], c["check_name"])
              for c in checks.get("failed_checks", [])]
    unjustified = ["%s %s: skip annotation without a reason" % (c["check_id"], c["resource"])
                   for c in checks.get("skipped_checks", [])
                   if (c.get("check_result", {}).get("suppress_comment") or "").strip().lower() in NO_REASON]
    assert not failed + unjustified, (
        "checkov findings in %s without a written justification (fix them, or annotate the object with "
        "checkov.io/skip1: <check id>=<reason>):\n  %s" % (component, "\n  ".join(failed + unjustified)))
