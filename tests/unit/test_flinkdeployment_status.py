"""The FlinkDeployment readiness predicate over YAML fixtures and every status combination."""
import copy
import functools
import itertools
import json
from datetime import datetime, timezone
from pathlib import Path

import pytest
import yaml

from ansible_collections.flinksql.studio.plugins.module_utils import flinkdeployment_status as fs

FIXTURES = Path(__file__).parent / "fixtures" / "flinkdeployment"
NAMED = sorted(p.name for p in FIXTURES.glob("*.yaml"))


@functools.lru_cache(maxsize=None)
def _parsed(name):
    return yaml.safe_load((FIXTURES / name).read_text())


def load(name):
    return copy.deepcopy(_parsed(name))


@pytest.mark.parametrize("name", NAMED)
def test_named_fixture(name):
    data = load(name)
    verdict = fs.evaluate(data["object"], data.get("events") or [], data.get("since"))
    assert verdict.state == data["expect"]["state"], verdict.reason
    assert data["expect"]["reason_contains"] in verdict.reason


def test_fixture_statuses_match_the_crd_enums():
    """Fixtures only use values the 1.15.0 CRD accepts (the API server would refuse others)."""
    for name in NAMED:
        status = load(name)["object"].get("status") or {}
        assert status.get("jobManagerDeploymentStatus", "READY") in JM_STATES
        assert status.get("lifecycleState", "STABLE") in LIFECYCLE_STATES
        assert (status.get("reconciliationStatus") or {}).get("state", "DEPLOYED") in RECONCILIATION_STATES


# --- every combination ---------------------------------------------------------------------

JM_STATES = ["READY", "DEPLOYED_NOT_READY", "DEPLOYING", "MISSING", "ERROR"]
LIFECYCLE_STATES = [
    "CREATED", "SUSPENDED", "UPGRADING", "DEPLOYED", "STABLE",
    "ROLLING_BACK", "ROLLED_BACK", "FAILED", "DELETING", "DELETED",
]
RECONCILIATION_STATES = ["DEPLOYED", "UPGRADING", "ROLLING_BACK", "ROLLED_BACK"]


def make(generation, observed, lifecycle, jm, reconciliation, error=None):
    obj = load("ready.yaml")["object"]
    obj["metadata"]["generation"] = generation
    status = obj["status"]
    status["observedGeneration"] = observed
    status["lifecycleState"] = lifecycle
    status["jobManagerDeploymentStatus"] = jm
    status["reconciliationStatus"]["state"] = reconciliation
    if error:
        status["error"] = error
    return obj


def expected(current, lifecycle, jm, reconciliation, error=False):
    """FACTS section 4, written as a table rather than as code paths."""
    if not current:
        return fs.WAITING  # a lagging status says nothing about the current spec
    if lifecycle in ("FAILED", "ROLLED_BACK") or jm == "ERROR" or reconciliation == "ROLLED_BACK":
        return fs.FAILED
    if (lifecycle, jm, reconciliation, error) == ("STABLE", "READY", "DEPLOYED", False):
        return fs.READY
    return fs.WAITING


COMBOS = list(itertools.product(LIFECYCLE_STATES, JM_STATES, RECONCILIATION_STATES))


@pytest.mark.parametrize("lifecycle,jm,reconciliation", COMBOS)
def test_every_combination_current_generation(lifecycle, jm, reconciliation):
    verdict = fs.evaluate(make(4, 4, lifecycle, jm, reconciliation))
    assert verdict.state == expected(True, lifecycle, jm, reconciliation), verdict.reason
    assert verdict.summary["job_manager_deployment_status"] == jm
    assert verdict.summary["lifecycle_state"] == lifecycle
    assert verdict.summary["reconciliation_state"] == reconciliation


@pytest.mark.parametrize("lifecycle,jm,reconciliation", COMBOS)
def test_every_combination_generation_lag(lifecycle, jm, reconciliation):
    """observedGeneration behind metadata.generation: never READY, never FAILED on old state."""
    verdict = fs.evaluate(make(5, 4, lifecycle, jm, reconciliation))
    assert verdict.state == fs.WAITING, verdict.reason
    assert "has not yet reconciled generation 5" in verdict.reason


@pytest.mark.parametrize("lifecycle,jm,reconciliation", COMBOS)
def test_every_combination_with_error(lifecycle, jm, reconciliation):
    """An error never lets the object be READY; terminal states carry the operator's text."""
    error = json.dumps({"type": "x.DeploymentFailedException", "message": "boom happened"})
    verdict = fs.evaluate(make(2, 2, lifecycle, jm, reconciliation, error))
    assert verdict.state == expected(True, lifecycle, jm, reconciliation, error=True)
    assert verdict.summary["error"] == "boom happened"
    if verdict.state == fs.FAILED:
        assert verdict.reason.endswith(": boom happened")


def test_observed_generation_missing_is_lag():
    obj = make(1, None, "STABLE", "READY", "DEPLOYED")
    del obj["status"]["observedGeneration"]
    assert fs.evaluate(obj).state == fs.WAITING


def test_summary_fields():
    summary = fs.evaluate(load("ready.yaml")["object"]).summary
    assert summary == {
        "name": "alpha",
        "namespace": "flink-studio-alpha",
        "generation": 1,
        "observed_generation": 1,
        "job_manager_deployment_status": "READY",
        "lifecycle_state": "STABLE",
        "reconciliation_state": "DEPLOYED",
        "flink_version": "2.2.1",
        "flink_revision": "6a0b5e4 @ 2025-12-01T00:00:00+01:00",
        "running_condition": {
            "status": "True",
            "reason": "JobManagerReady",
            "message": "JobManager is running and ready to receive REST API calls",
        },
        "error": None,
    }


# --- error JSON ---------------------------------------------------------------------------

@pytest.mark.parametrize(
    "raw,text",
    [
        (None, None),
        ("", None),
        ("plain text, not JSON", "plain text, not JSON"),
        ('{"type":"T","message":"m1","throwableList":[]}', "m1"),
        ('{"type":"T","message":"m2","additionalMetadata":{"reason":"OOMKilled"}}', "OOMKilled: m2"),
        ('{"type":"T","message":"FailedCreate: q","additionalMetadata":{"reason":"FailedCreate"}}',
         "FailedCreate: q"),
        ('{"type":"T","throwableList":[{"type":"C","message":"root cause"}]}', "root cause"),
        ('["not", "an", "object"]', '["not", "an", "object"]'),
    ],
)
def test_error_message(raw, text):
    assert fs.error_message(raw) == text


# --- events and time ------------------------------------------------------------------------

def test_parse_time_forms():
    expect = datetime(2026, 5, 1, 10, 0, 1, tzinfo=timezone.utc)
    assert fs.parse_time("2026-05-01T10:00:01Z") == expect
    assert fs.parse_time("2026-05-01T12:00:01+02:00") == expect
    assert fs.parse_time("2026-05-01T10:00:01.000000Z") == expect
    assert fs.parse_time("2026-05-01T10:00:01.5Z").microsecond == 500000
    assert fs.parse_time(expect.replace(tzinfo=None)) == expect
    assert fs.parse_time("yesterday") is None
    assert fs.parse_time(None) is None


def test_event_without_managed_fields_uses_since():
    """Without managedFields on a bumped generation, the caller's `since` is the cutoff."""
    data = load("validation-error-event.yaml")
    obj = data["object"]
    del obj["metadata"]["managedFields"]
    assert fs.evaluate(obj, data["events"], since="2026-05-01T11:00:00Z").state == fs.FAILED
    assert fs.evaluate(obj, data["events"], since="2026-05-01T11:00:05Z").state == fs.WAITING


def test_events_for_other_kind_or_name_are_ignored():
    data = load("unsupported-version-event.yaml")
    other_kind = copy.deepcopy(data["events"][0])
    other_kind["involvedObject"]["kind"] = "FlinkSessionJob"
    other_name = copy.deepcopy(data["events"][0])
    other_name["involvedObject"]["name"] = "beta"
    assert fs.evaluate(data["object"], [other_kind, other_name]).state == fs.WAITING


def test_status_written_before_spec_is_not_a_rejection():
    data = load("spec-rejected.yaml")
    obj = data["object"]
    obj["metadata"]["managedFields"][1]["time"] = "2026-05-01T10:59:00Z"
    assert fs.evaluate(obj).state == fs.WAITING


def test_event_brief():
    event = load("unsupported-version-event.yaml")["events"][0]
    assert fs.event_brief(event) == {
        "type": "Warning",
        "reason": "UnsupportedFlinkVersion",
        "message": "Flink version v1_16 is not supported by this operator version",
        "count": 3,
        "last_timestamp": "2026-05-01T10:02:01Z",
        "source": "Operator",
    }


def test_predicate_has_no_io_imports():
    source = Path(fs.__file__).read_text()
    for name in ("kubernetes", "requests", "urllib", "socket", "subprocess", "open("):
        assert name not in source.split('"""', 2)[2].replace("kubernetes.core", ""), name
