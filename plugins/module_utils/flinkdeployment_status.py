# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Readiness of a session FlinkDeployment, decided from the object and its Events.

Pure functions, no I/O: the caller (the ``flinkdeployment_wait`` module, tests, benchmarks)
fetches the object and the Events and hands them in as plain dicts, exactly as the API server
serialises them (camelCase keys, RFC 3339 timestamps).

The rules follow the Flink Kubernetes Operator 1.15 (``CommonStatus.getLifecycleState``,
``ReconciliationStatus``, ``ConditionUtils``):

READY
    ``status.observedGeneration == metadata.generation`` and ``reconciliationStatus.state`` is
    DEPLOYED and ``jobManagerDeploymentStatus`` is READY and ``lifecycleState`` is STABLE and
    ``status.error`` is empty.

FAILED (terminal, the caller should stop waiting)
    * a Warning Event ``ValidationError`` or ``UnsupportedFlinkVersion`` on this object that
      belongs to the current spec (see "Stale evidence" below);
    * the status describes the current spec and says lifecycle FAILED, JobManager ERROR or
      reconciliation/lifecycle ROLLED_BACK;
    * ``status.error`` is set while ``observedGeneration`` lags and the operator wrote that status
      after the current spec was written: the operator saw the spec and rejected it.

WAITING
    anything else.

Stale evidence
    After a spec update the previous generation's status (READY/STABLE, or ERROR) stays visible
    until the operator picks the new spec up, and old Events stay listed for an hour. So:

    * the status "describes the current spec" only when ``observedGeneration`` equals
      ``metadata.generation``. A lagging status never counts as READY, and a lagging ERROR or
      FAILED does not fail the wait (the spec change may be the fix), unless ``status.error`` is
      set and the status was written after the spec (the rejection rule above);
    * an Event counts only if it names this object (``involvedObject`` kind, name and, when both
      are known, uid) and its last occurrence is not older than the moment the current spec was
      written. That moment is read from ``metadata.managedFields``: the newest ``time`` of an
      entry that owns fields under ``spec`` (for generation 1 the creation time). When the object
      carries no such entry the caller's ``since`` (typically the start of the wait) is used.
      Timestamps have one-second resolution, so an Event from the old spec emitted in the same
      second as the update would still count; the operator re-emits these Events on every
      reconcile of a bad spec, so the rule errs towards noticing a current rejection.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re
from collections import namedtuple
from datetime import datetime, timedelta, timezone

READY = "READY"
WAITING = "WAITING"
FAILED = "FAILED"

KIND = "FlinkDeployment"

# Warning Events that end the wait at once (FACTS section 4).
TERMINAL_EVENT_REASONS = ("ValidationError", "UnsupportedFlinkVersion")
# Event reasons worth showing to the user (in results and failure messages).
REPORTED_EVENT_REASONS = TERMINAL_EVENT_REASONS + (
    "Missing",
    "CleanupFailed",
    "Error",
    "ResourceQuotaReached",
)

Verdict = namedtuple("Verdict", ["state", "reason", "summary"])

_TS_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:?\d{2})?$"
)


def parse_time(value):
    """RFC 3339 string (or datetime) -> aware UTC datetime; None if absent or unparsable."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    match = _TS_RE.match(str(value).strip())
    if not match:
        return None
    year, month, day, hour, minute, second, frac, zone = match.groups()
    micro = int((frac or "0").ljust(6, "0")[:6])
    result = datetime(
        int(year), int(month), int(day), int(hour), int(minute), int(second), micro,
        tzinfo=timezone.utc,
    )
    if zone and zone != "Z":
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        result = result - sign * offset
    return result


def _get(mapping, *path):
    for key in path:
        if not isinstance(mapping, dict):
            return None
        mapping = mapping.get(key)
    return mapping


def error_message(error):
    """The human text of ``status.error``.

    The operator stores a serialised ``FlinkResourceException``:
    ``{"type": "...DeploymentFailedException", "message": "...", "additionalMetadata": {...},
    "throwableList": [...]}``. Returns the message (with the reason from additionalMetadata
    when there is one), or the raw string when it is not such JSON.
    """
    if not error:
        return None
    try:
        parsed = json.loads(error)
    except (TypeError, ValueError):
        return str(error)
    if not isinstance(parsed, dict):
        return str(error)
    message = parsed.get("message")
    if not message:
        for item in parsed.get("throwableList") or []:
            if isinstance(item, dict) and item.get("message"):
                message = item["message"]
                break
    if not message:
        return str(error)
    reason = _get(parsed, "additionalMetadata", "reason")
    if reason and reason not in message:
        return "{0}: {1}".format(reason, message)
    return message


def spec_written_at(obj):
    """When the current spec was written (see module docstring), or None if not derivable."""
    metadata = obj.get("metadata") or {}
    if metadata.get("generation") == 1:
        return parse_time(metadata.get("creationTimestamp"))
    times = []
    for entry in metadata.get("managedFields") or []:
        if entry.get("subresource"):
            continue
        fields = entry.get("fieldsV1") or {}
        if "f:spec" in fields:
            parsed = parse_time(entry.get("time"))
            if parsed:
                times.append(parsed)
    return max(times) if times else None


def status_written_at(obj):
    """The newest write to the status subresource recorded in managedFields, or None."""
    times = []
    for entry in (obj.get("metadata") or {}).get("managedFields") or []:
        if entry.get("subresource") == "status" or "f:status" in (entry.get("fieldsV1") or {}):
            parsed = parse_time(entry.get("time"))
            if parsed:
                times.append(parsed)
    return max(times) if times else None


def event_time(event):
    """Last occurrence of a core/v1 (or events.k8s.io/v1 shaped) Event."""
    for value in (
        _get(event, "series", "lastObservedTime"),
        event.get("lastTimestamp"),
        event.get("eventTime"),
        event.get("firstTimestamp"),
        event.get("deprecatedLastTimestamp"),
        _get(event, "metadata", "creationTimestamp"),
    ):
        parsed = parse_time(value)
        if parsed:
            return parsed
    return None


def event_brief(event):
    """A small, printable view of an Event."""
    when = event_time(event)
    return {
        "type": event.get("type"),
        "reason": event.get("reason"),
        "message": event.get("message") or event.get("note"),
        "count": event.get("count") or _get(event, "series", "count") or 1,
        "last_timestamp": when.strftime("%Y-%m-%dT%H:%M:%SZ") if when else None,
        "source": _get(event, "source", "component") or event.get("reportingController")
        or event.get("reportingComponent"),
    }


def events_for(obj, events):
    """The Events that name this object, oldest first."""
    metadata = obj.get("metadata") or {}
    uid = metadata.get("uid")
    selected = []
    for event in events or []:
        involved = event.get("involvedObject") or event.get("regarding") or {}
        if involved.get("kind") not in (None, KIND):
            continue
        if involved.get("name") != metadata.get("name"):
            continue
        if uid and involved.get("uid") and involved.get("uid") != uid:
            continue
        selected.append(event)
    epoch = datetime(1970, 1, 1, tzinfo=timezone.utc)
    return sorted(selected, key=lambda e: event_time(e) or epoch)


def current_events(obj, events, since=None):
    """Events of this object that belong to its current spec (see the module docstring)."""
    cutoff = spec_written_at(obj) or parse_time(since)
    result = []
    for event in events_for(obj, events):
        when = event_time(event)
        if cutoff is not None and (when is None or when < cutoff):
            continue
        result.append(event)
    return result


def summarize(obj):
    """The state summary returned to the user."""
    metadata = obj.get("metadata") or {}
    status = obj.get("status") or {}
    running = None
    for condition in status.get("conditions") or []:
        if condition.get("type") == "Running":
            running = {
                "status": condition.get("status"),
                "reason": condition.get("reason"),
                "message": condition.get("message"),
            }
    return {
        "name": metadata.get("name"),
        "namespace": metadata.get("namespace"),
        "generation": metadata.get("generation"),
        "observed_generation": status.get("observedGeneration"),
        "job_manager_deployment_status": status.get("jobManagerDeploymentStatus"),
        "lifecycle_state": status.get("lifecycleState"),
        "reconciliation_state": _get(status, "reconciliationStatus", "state"),
        "flink_version": _get(status, "clusterInfo", "flink-version"),
        "flink_revision": _get(status, "clusterInfo", "flink-revision"),
        "running_condition": running,
        "error": error_message(status.get("error")),
    }


def describe(summary):
    """One line: the state as the operator reports it."""
    return (
        "generation {generation} (observed {observed_generation}), "
        "jobManagerDeploymentStatus={job_manager_deployment_status}, "
        "lifecycleState={lifecycle_state}, "
        "reconciliationStatus.state={reconciliation_state}".format(**summary)
        + (", error: {0}".format(summary["error"]) if summary.get("error") else "")
    )


def evaluate(obj, events=(), since=None):
    """Decide READY / WAITING / FAILED for a FlinkDeployment dict and its Events.

    ``since`` is only a fallback for the start of the current spec when the object has no
    managedFields (see the module docstring). Returns a ``Verdict(state, reason, summary)``.
    """
    summary = summarize(obj)
    ident = "FlinkDeployment {0}/{1}".format(summary["namespace"], summary["name"])

    for event in current_events(obj, events, since):
        if event.get("type") == "Warning" and event.get("reason") in TERMINAL_EVENT_REASONS:
            return Verdict(
                FAILED,
                "{0} was rejected by the operator ({1}): {2}".format(
                    ident, event.get("reason"), event.get("message") or event.get("note") or ""
                ),
                summary,
            )

    status = obj.get("status") or {}
    if not status:
        return Verdict(
            WAITING, "{0} has no status yet: the operator has not picked it up".format(ident),
            summary,
        )

    generation = summary["generation"]
    observed = summary["observed_generation"]
    current = generation is not None and observed == generation
    lifecycle = summary["lifecycle_state"]
    jm_status = summary["job_manager_deployment_status"]
    reconciliation = summary["reconciliation_state"]
    error = summary["error"]

    if not current and error:
        wrote_status = status_written_at(obj)
        wrote_spec = spec_written_at(obj)
        if wrote_status and wrote_spec and wrote_status > wrote_spec:
            return Verdict(
                FAILED,
                "{0}: the operator rejected generation {1} (observed generation stays {2}): {3}"
                .format(ident, generation, "unset" if observed is None else observed, error),
                summary,
            )

    if current:
        failure = None
        if lifecycle == "FAILED":
            failure = "lifecycleState is FAILED"
        elif jm_status == "ERROR":
            failure = "the JobManager deployment is in ERROR"
        elif reconciliation == "ROLLED_BACK" or lifecycle == "ROLLED_BACK":
            failure = "the operator rolled the spec back to the last stable one"
        if failure:
            return Verdict(
                FAILED,
                "{0}: {1}{2}".format(
                    ident, failure,
                    ": {0}".format(error) if error else " (the operator reported no error text)",
                ),
                summary,
            )
        if (
            reconciliation == "DEPLOYED"
            and jm_status == "READY"
            and lifecycle == "STABLE"
            and not error
        ):
            return Verdict(READY, "{0} is ready: {1}".format(ident, describe(summary)), summary)

    if not current:
        reason = (
            "the operator has not yet reconciled generation {0} "
            "(status still describes generation {1})".format(generation, observed)
        )
    else:
        reason = "not ready yet"
    return Verdict(WAITING, "{0}: {1}; {2}".format(ident, reason, describe(summary)), summary)
