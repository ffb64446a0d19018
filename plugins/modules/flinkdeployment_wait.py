#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: flinkdeployment_wait
short_description: Wait until a Flink session cluster (FlinkDeployment) is ready, or fail fast
version_added: 0.1.0
author:
  - Flink SQL Studio maintainers (@flinksql-studio)
description:
  - Waits until the Flink Kubernetes Operator reports a C(FlinkDeployment) as ready, using the
    Kubernetes watch API (list, then watch from the list's resourceVersion; re-list on
    C(410 Gone), reconnect when the server ends a stream). It does not poll with sleeps, so it
    returns within a fraction of a second of the operator's status update.
  - Ready means C(status.observedGeneration) equals C(metadata.generation),
    C(status.reconciliationStatus.state) is C(DEPLOYED), C(status.jobManagerDeploymentStatus) is
    C(READY), C(status.lifecycleState) is C(STABLE) and C(status.error) is empty. The generation
    check matters after a spec update, when the previous READY/STABLE stays visible until the
    operator picks the new spec up.
  - Fails at once, without waiting for I(timeout), on a terminal state of the current spec
    (lifecycle C(FAILED), JobManager C(ERROR), reconciliation C(ROLLED_BACK)), on a spec the
    operator rejected (C(status.error) set while C(observedGeneration) lags), and on a Warning
    Event C(ValidationError) or C(UnsupportedFlinkVersion) on the object. The failure message
    carries the operator's own error text. Events and errors from an older generation are
    ignored (see the C(flinkdeployment_status) module_utils for the exact rule).
  - Fails with a clear message when the object does not exist, or is deleted while waiting.
  - kubernetes.core's C(wait_condition) cannot express this, because it only reads
    C(status.conditions).
  - Read-only; C(changed) is always false. In check mode it reads the current state once and
    returns at once without waiting or failing.
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
options:
  name:
    description:
      - Name of the C(FlinkDeployment).
    type: str
    required: true
  namespace:
    description:
      - Namespace of the C(FlinkDeployment).
    type: str
    required: true
  timeout:
    description:
      - Seconds to wait for the object to become ready before failing.
      - C(0) checks the current state once.
    type: int
    default: 600
requirements:
  - "python >= 3.9"
  - "kubernetes >= 24.2.0"
  - "PyYAML >= 3.11"
  - the C(kubernetes.core) collection
notes:
  - Needs C(get), C(list) and C(watch) on C(flinkdeployments.flink.apache.org) and on C(events)
    in the namespace.
seealso:
  - module: kubernetes.core.k8s
  - module: kubernetes.core.k8s_info
"""

EXAMPLES = r"""
- name: Apply the session cluster
  kubernetes.core.k8s:
    state: present
    apply: true
    template: flinkdeployment.yaml.j2

- name: Wait until the session cluster is ready (fails fast with the operator's error)
  flinksql.studio.flinkdeployment_wait:
    name: alpha
    namespace: flink-studio-alpha
    timeout: 300
  register: __session_cluster

- name: Show the Flink version the cluster runs
  ansible.builtin.debug:
    msg: "{{ __session_cluster.state.flink_version }} after {{ __session_cluster.waited }} s"

- name: Same, with an explicit kubeconfig and context
  flinksql.studio.flinkdeployment_wait:
    name: alpha
    namespace: flink-studio-alpha
    kubeconfig: /etc/studio/kubeconfig
    context: admin@prod
"""

RETURN = r"""
ready:
  description: Whether the FlinkDeployment was ready when the module returned.
  returned: always
  type: bool
  sample: true
state:
  description: The last state seen (empty in check mode when the object does not exist).
  returned: always
  type: dict
  contains:
    name:
      description: Name of the FlinkDeployment.
      type: str
    namespace:
      description: Namespace of the FlinkDeployment.
      type: str
    generation:
      description: C(metadata.generation).
      type: int
    observed_generation:
      description: C(status.observedGeneration), the generation the operator last reconciled.
      type: int
    job_manager_deployment_status:
      description: C(status.jobManagerDeploymentStatus).
      type: str
      sample: READY
    lifecycle_state:
      description: C(status.lifecycleState).
      type: str
      sample: STABLE
    reconciliation_state:
      description: C(status.reconciliationStatus.state).
      type: str
      sample: DEPLOYED
    flink_version:
      description: C(status.clusterInfo["flink-version"]), reported by the running cluster.
      type: str
      sample: 2.2.1
    flink_revision:
      description: C(status.clusterInfo["flink-revision"]).
      type: str
    running_condition:
      description: The C(Running) condition (status, reason, message), if the operator wrote one.
      type: dict
    error:
      description: The message of C(status.error) (the operator stores a JSON document there).
      type: str
  sample:
    name: alpha
    namespace: flink-studio-alpha
    generation: 2
    observed_generation: 2
    job_manager_deployment_status: READY
    lifecycle_state: STABLE
    reconciliation_state: DEPLOYED
    flink_version: 2.2.1
    error: null
events:
  description: Events of this FlinkDeployment seen while waiting, oldest first (at most 20).
  returned: always
  type: list
  elements: dict
  sample:
    - type: Normal
      reason: Submit
      message: Starting deployment
      count: 1
      last_timestamp: "2026-05-01T10:00:02Z"
      source: JobManagerDeployment
waited:
  description: Seconds spent waiting.
  returned: always
  type: float
  sample: 12.4
msg:
  description: What the module concluded, in one sentence.
  returned: always
  type: str
"""

import json
import queue
import threading
import time
import traceback
from datetime import datetime, timezone

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

try:
    from ansible_collections.kubernetes.core.plugins.module_utils.args_common import (
        AUTH_ARG_SPEC,
    )
    from ansible_collections.kubernetes.core.plugins.module_utils.k8s.client import (
        get_api_client,
    )
    from ansible_collections.kubernetes.core.plugins.module_utils.k8s.core import (
        AnsibleK8SModule,
    )
    from ansible_collections.kubernetes.core.plugins.module_utils.k8s.exceptions import (
        CoreException,
    )

    HAS_K8S_COLLECTION = True
    K8S_COLLECTION_ERROR = None
except ImportError:
    HAS_K8S_COLLECTION = False
    K8S_COLLECTION_ERROR = traceback.format_exc()
    AUTH_ARG_SPEC = {"kubeconfig": {"type": "raw", "no_log": True}, "context": {}}

try:
    from kubernetes.client import CoreV1Api, CustomObjectsApi
    from kubernetes.client.rest import ApiException
    from kubernetes.watch.watch import iter_resp_lines
    from urllib3.exceptions import HTTPError

    HAS_KUBERNETES = True
except ImportError:
    HAS_KUBERNETES = False

    class HTTPError(Exception):
        pass

from ansible_collections.flinksql.studio.plugins.module_utils import (
    flinkdeployment_status as fs,
)

GROUP = "flink.apache.org"
VERSION = "v1beta1"
PLURAL = "flinkdeployments"
MAX_EVENTS_RETURNED = 20
# Upper bound of one watch request; the stream is then reopened from the last resourceVersion
# (proxies and load balancers in front of API servers cut long idle streams anyway).
MAX_WATCH_SECONDS = 240
EVENTS_IN_MESSAGE = 5


class _WatchStream(threading.Thread):
    """Keeps one watch open from ``resource_version`` and puts what it sees on ``out``.

    Re-lists on 410 Gone (the resourceVersion was compacted away) and reconnects when the
    server ends the stream (``timeout_seconds``) or the connection drops. Items put on ``out``:
    ``(stream, "LIST", [items])``, ``(stream, "ADDED"|"MODIFIED"|"DELETED", obj)`` or
    ``(stream, "FAILED", message)``.
    """

    def __init__(self, label, list_call, resource_version, deadline, out):
        super(_WatchStream, self).__init__(name="watch-" + label, daemon=True)
        self.label = label
        self.list_call = list_call
        self.resource_version = resource_version
        self.deadline = deadline
        self.out = out
        self.stop_event = threading.Event()
        self._response = None

    def stop(self):
        self.stop_event.set()
        response = self._response
        if response is not None:
            try:
                if hasattr(response, "shutdown"):  # urllib3 >= 2.3: unblocks a pending read
                    response.shutdown()
                response.close()
            except Exception:  # pylint: disable=broad-except
                pass

    def _relist(self):
        response = self.list_call(_preload_content=False)
        data = json.loads(response.data)
        self.resource_version = data["metadata"]["resourceVersion"]
        self.out.put((self.label, "LIST", data.get("items") or []))

    def run(self):
        failures = 0
        while not self.stop_event.is_set():
            remaining = self.deadline - time.monotonic()
            if remaining <= 0:
                return
            try:
                if self.resource_version is None:
                    self._relist()
                self._response = self.list_call(
                    watch=True,
                    resource_version=self.resource_version,
                    allow_watch_bookmarks=True,
                    timeout_seconds=max(1, min(int(remaining) + 1, MAX_WATCH_SECONDS)),
                    _request_timeout=(10, min(remaining, MAX_WATCH_SECONDS) + 15),
                    _preload_content=False,
                )
                if self.stop_event.is_set():
                    return
                for line in iter_resp_lines(self._response):
                    event = json.loads(line)
                    kind, obj = event.get("type"), event.get("object") or {}
                    if kind == "ERROR":
                        if obj.get("code") == 410:
                            self.resource_version = None  # compacted: list again
                            break
                        raise ApiException(status=obj.get("code"), reason=obj.get("message"))
                    self.resource_version = (
                        (obj.get("metadata") or {}).get("resourceVersion") or self.resource_version
                    )
                    if kind != "BOOKMARK":
                        self.out.put((self.label, kind, obj))
                failures = 0
            except ApiException as exc:
                if self.stop_event.is_set():
                    return
                if exc.status == 410:
                    self.resource_version = None
                    continue
                failures += 1
                if exc.status in (401, 403, 404) or failures > 5:
                    self.out.put((self.label, "FAILED", "watching {0} failed: {1} {2}".format(
                        self.label, exc.status, exc.reason)))
                    return
                self.stop_event.wait(min(0.2 * failures, 1.0))
            except Exception as exc:  # pylint: disable=broad-except
                # stream ended abruptly or the connection dropped: reconnect from the last
                # resourceVersion seen (the API server replays what we missed).
                if self.stop_event.is_set():
                    return
                failures += 1
                if failures > 5:
                    self.out.put((self.label, "FAILED", "watching {0} failed: {1}".format(
                        self.label, exc)))
                    return
                self.stop_event.wait(min(0.2 * failures, 1.0))
            finally:
                response, self._response = self._response, None
                if response is not None:
                    try:
                        response.release_conn()
                    except Exception:  # pylint: disable=broad-except
                        pass


def _event_key(event):
    meta = event.get("metadata") or {}
    return meta.get("uid") or meta.get("name")


def _result(verdict, events, obj, started, msg):
    briefs = [fs.event_brief(e) for e in fs.events_for(obj, events)] if obj else []
    return {
        "ready": bool(verdict and verdict.state == fs.READY),
        "failed": not (verdict and verdict.state == fs.READY),
        "state": verdict.summary if verdict else {},
        "events": briefs[-MAX_EVENTS_RETURNED:],
        "waited": round(time.monotonic() - started, 3),
        "msg": msg,
    }


def _format_events(obj, events):
    lines = []
    for brief in [fs.event_brief(e) for e in fs.events_for(obj, events)][-EVENTS_IN_MESSAGE:]:
        lines.append("{type} {reason} x{count} at {last_timestamp}: {message}".format(**brief))
    return "; ".join(lines) if lines else "none"


def wait_for_flinkdeployment(api_client, name, namespace, timeout, check_mode=False):
    """Wait on one FlinkDeployment; returns a result dict (``failed`` says how it ended).

    ``api_client`` is a ``kubernetes.client.ApiClient``. Importable on its own so that the
    benchmark can measure the reaction time in-process.
    """
    started = time.monotonic()
    deadline = started + max(0, timeout)
    since = datetime.now(timezone.utc)
    custom, core = CustomObjectsApi(api_client), CoreV1Api(api_client)
    ident = "FlinkDeployment {0}/{1}".format(namespace, name)

    def list_fd(**kwargs):
        return custom.list_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURAL,
            field_selector="metadata.name=" + name, **kwargs)

    def list_events(**kwargs):
        return core.list_namespaced_event(
            namespace,
            field_selector="involvedObject.kind=FlinkDeployment,involvedObject.name=" + name,
            **kwargs)

    initial_fd = json.loads(list_fd(_preload_content=False).data)
    initial_ev = json.loads(list_events(_preload_content=False).data)
    items = initial_fd.get("items") or []
    obj = items[0] if items else None
    events = dict((_event_key(e), e) for e in initial_ev.get("items") or [])

    if check_mode:
        verdict = fs.evaluate(obj, list(events.values()), since) if obj else None
        result = _result(verdict, list(events.values()), obj, started, (
            "check mode: did not wait; current state: {0}".format(verdict.reason)
            if verdict else "check mode: did not wait; {0} does not exist (yet)".format(ident)))
        result["failed"] = False
        return result
    if obj is None:
        return _result(None, [], None, started, (
            "{0} does not exist. Create it first (for example with kubernetes.core.k8s) "
            "and check the name and namespace.".format(ident)))

    out = queue.Queue()
    streams = [
        _WatchStream("flinkdeployment", list_fd, initial_fd["metadata"]["resourceVersion"],
                     deadline, out),
        _WatchStream("events", list_events, initial_ev["metadata"]["resourceVersion"],
                     deadline, out),
    ]
    verdict = fs.evaluate(obj, list(events.values()), since)
    try:
        if verdict.state == fs.WAITING and timeout > 0:
            for stream in streams:
                stream.start()
        while verdict.state == fs.WAITING:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                label, kind, payload = out.get(timeout=remaining)
            except queue.Empty:
                break
            if kind == "FAILED":
                return _result(verdict, list(events.values()), obj, started, (
                    "Lost the watch on {0}: {1}. Last state: {2}".format(
                        ident, payload, fs.describe(verdict.summary))))
            if label == "flinkdeployment":
                if kind == "LIST":
                    if not payload:
                        kind = "DELETED"
                    else:
                        payload = payload[0]
                if kind == "DELETED":
                    return _result(verdict, list(events.values()), obj, started, (
                        "{0} was deleted while waiting for it to become ready. "
                        "Last state: {1}".format(ident, fs.describe(verdict.summary))))
                obj = payload
                if (obj.get("metadata") or {}).get("deletionTimestamp"):
                    verdict = fs.evaluate(obj, list(events.values()), since)
                    return _result(verdict, list(events.values()), obj, started, (
                        "{0} is being deleted (deletionTimestamp is set); it will not become "
                        "ready. Last state: {1}".format(ident, fs.describe(verdict.summary))))
            else:
                if kind == "LIST":
                    events = dict((_event_key(e), e) for e in payload)
                elif kind == "DELETED":
                    events.pop(_event_key(payload), None)
                else:
                    events[_event_key(payload)] = payload
            verdict = fs.evaluate(obj, list(events.values()), since)
    finally:
        for stream in streams:
            stream.stop()

    all_events = list(events.values())
    if verdict.state == fs.READY:
        return _result(verdict, all_events, obj, started, verdict.reason)
    if verdict.state == fs.FAILED:
        return _result(verdict, all_events, obj, started, verdict.reason)
    return _result(verdict, all_events, obj, started, (
        "Timed out after {0} s waiting for {1} to become ready. Last state: {2}. "
        "Recent events: {3}.{4}".format(
            timeout, ident, verdict.reason, _format_events(obj, all_events),
            " Is the Flink Kubernetes Operator running and watching namespace {0}?".format(
                namespace) if not obj.get("status") else "")))


def argument_spec():
    spec = dict(AUTH_ARG_SPEC)
    spec.update(
        name=dict(type="str", required=True),
        namespace=dict(type="str", required=True),
        timeout=dict(type="int", default=600),
    )
    return spec


def main():
    if not HAS_K8S_COLLECTION:
        module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
        module.fail_json(
            msg="The kubernetes.core collection (6.x) is needed by flinksql.studio."
            "flinkdeployment_wait: install it with `ansible-galaxy collection install "
            "kubernetes.core` (it also ships with the `ansible` package).",
            exception=K8S_COLLECTION_ERROR,
        )
    module = AnsibleK8SModule(argument_spec=argument_spec(), supports_check_mode=True)
    if not HAS_KUBERNETES:
        module.fail_json(msg=missing_required_lib("kubernetes"))
    if module.params["timeout"] < 0:
        module.fail_json(msg="timeout must be 0 or more seconds, got {0}".format(
            module.params["timeout"]))
    try:
        client = get_api_client(module=module)
        result = wait_for_flinkdeployment(
            client.client.client,
            module.params["name"],
            module.params["namespace"],
            module.params["timeout"],
            check_mode=module.check_mode,
        )
    except CoreException as exc:
        module.fail_from_exception(exc)
    except (HTTPError, OSError) as exc:
        module.fail_json(msg="Could not reach the Kubernetes API server (check kubeconfig, context, "
                         "host): {0}".format(exc))
    except ApiException as exc:
        module.fail_json(
            msg="Reading FlinkDeployment {0}/{1} or its Events failed: {2} {3}. {4}".format(
                module.params["namespace"], module.params["name"], exc.status, exc.reason,
                "Is the FlinkDeployment CRD (flink.apache.org/v1beta1) installed?"
                if exc.status == 404 else (exc.body or "")),
            status=exc.status,
        )
    failed = result.pop("failed")
    if failed:
        module.fail_json(changed=False, **result)
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
