#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Used by the flinksql.studio.teardown role."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: flink_session_jobs
short_description: Cancel the jobs running on a Flink session cluster, through its JobManager REST API
version_added: 0.1.0
author:
  - Flink SQL Studio maintainers (@flinksql-studio)
description:
  - Lists the jobs of a session cluster (C(GET /jobs/overview)), cancels every job that is not in a
    terminal state (C(PATCH /jobs/<id>?mode=cancel)) and waits until all of them are terminal
    (C(FINISHED), C(CANCELED), C(FAILED) or C(SUSPENDED)).
  - The operator blocks the deletion of a session FlinkDeployment while any job runs, jobs submitted
    by the SQL gateway included (C(kubernetes.operator.session.deletion.block-on-unmanaged-jobs)),
    so a teardown runs this first.
  - Reaches the JobManager either directly by I(url) or, by default, through the Kubernetes API
    server's service proxy (C(<server>/api/v1/namespaces/<namespace>/services/<service>:<port>/proxy))
    with the kubeconfig's credentials. Those need C(get) and C(patch) on C(services/proxy).
  - A JobManager that cannot be reached (no Service, no ready endpoint, connection refused) is not an
    error; the result says so (I(reachable=false), I(reason)), because there is nothing to cancel
    through it. Jobs that stay non-terminal past I(timeout) are an error naming them.
  - In check mode the jobs are listed, nothing is cancelled.
options:
  url:
    description: Base URL of the JobManager REST API, e.g. C(http://analytics-rest.flink-studio-analytics.svc:8081).
    type: str
  service:
    description: The JobManager REST Service (C(<name>-rest)), reached through the API server's service proxy.
    type: str
  namespace:
    description: Namespace of I(service).
    type: str
  port:
    description: Service port, number or name.
    type: str
    default: "8081"
  timeout:
    description: Seconds to wait until every cancelled job is terminal.
    type: int
    default: 60
  request_timeout:
    description: Seconds per HTTP request.
    type: int
    default: 10
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
"""

EXAMPLES = r"""
- name: Cancel every running job of the analytics session cluster
  flinksql.studio.flink_session_jobs:
    service: analytics-rest
    namespace: flink-studio-analytics
"""

RETURN = r"""
reachable:
  description: Whether the JobManager REST API answered.
  type: bool
  returned: always
reason:
  description: Why the JobManager could not be reached.
  type: str
  returned: when not reachable
address:
  description: Where the JobManager was looked for.
  type: str
  returned: always
jobs:
  description: The jobs found before cancelling (C(jid), C(name), C(state)).
  type: list
  elements: dict
  returned: always
cancelled:
  description: Ids of the jobs this run asked to cancel.
  type: list
  elements: str
  returned: always
"""

import json
import time
import traceback

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.six.moves.urllib.error import HTTPError, URLError
from ansible.module_utils.urls import open_url

try:
    from ansible_collections.kubernetes.core.plugins.module_utils.args_common import AUTH_ARG_SPEC
    HAS_K8S_COLLECTION = True
    K8S_COLLECTION_ERROR = None
except ImportError:
    HAS_K8S_COLLECTION = False
    K8S_COLLECTION_ERROR = traceback.format_exc()
    AUTH_ARG_SPEC = {"kubeconfig": {"type": "raw", "no_log": True}, "context": {}}

TERMINAL = frozenset(("FINISHED", "CANCELED", "FAILED", "SUSPENDED"))


class Unreachable(Exception):
    pass


def argument_spec():
    spec = {key: dict(value) for key, value in AUTH_ARG_SPEC.items()}
    spec.update(
        url=dict(type="str"),
        service=dict(type="str"),
        namespace=dict(type="str"),
        port=dict(type="str", default="8081"),
        timeout=dict(type="int", default=60),
        request_timeout=dict(type="int", default=10),
    )
    return spec


def proxy_transport(module):
    """(base URL, open_url options, display) for the API server's service proxy."""
    from ansible_collections.kubernetes.core.plugins.module_utils.k8s.client import get_api_client
    from ansible_collections.kubernetes.core.plugins.module_utils.k8s.exceptions import CoreException
    from ansible_collections.flinksql.studio.plugins.module_utils.sql_gateway_client import (
        k8s_transport,
        service_proxy_base,
    )

    params = module.params
    try:
        k8s = get_api_client(module=module)
        transport = k8s_transport(k8s.configuration)
    except (CoreException, ValueError) as exc:
        module.fail_json(msg="Cannot read the Kubernetes credentials for the service proxy: %s" % exc)
    base = service_proxy_base(transport["host"], params["namespace"], params["service"], params["port"])
    display = "service %s/%s:%s via the API server %s" % (
        params["namespace"], params["service"], params["port"], transport["host"])
    return base, transport, display


def request(base, transport, method, path, timeout):
    headers = dict(transport.get("headers") or {}, Accept="application/json")
    kwargs = dict(
        method=method, headers=headers, timeout=timeout,
        validate_certs=transport.get("validate_certs", True),
        client_cert=transport.get("client_cert"), client_key=transport.get("client_key"),
        ca_path=transport.get("ca_path"),
    )
    if method == "PATCH":
        headers["Content-Type"] = "application/json"
        kwargs["data"] = b"{}"
    try:
        response = open_url(base + path, **kwargs)
        body = response.read()
    except HTTPError as exc:
        detail = exc.read().decode("utf-8", "replace")[:300] if hasattr(exc, "read") else ""
        # The service proxy answers 503 (no ready endpoint), 404 (no Service) or 502 (dial failed).
        if exc.code in (404, 502, 503):
            raise Unreachable("HTTP %s on %s %s: %s" % (exc.code, method, path, detail.strip()))
        raise
    except (URLError, OSError) as exc:
        raise Unreachable("%s %s: %s" % (method, path, getattr(exc, "reason", exc)))
    return json.loads(body.decode("utf-8")) if body else {}


def overview(base, transport, timeout):
    jobs = request(base, transport, "GET", "/jobs/overview", timeout).get("jobs") or []
    return [{"jid": j.get("jid"), "name": j.get("name"), "state": j.get("state")} for j in jobs]


def run_module(module):
    params = module.params
    if params["url"]:
        base, transport, display = params["url"].rstrip("/"), {}, params["url"].rstrip("/")
    else:
        base, transport, display = proxy_transport(module)
    result = dict(changed=False, reachable=True, address=display, jobs=[], cancelled=[])
    timeout = params["request_timeout"]
    try:
        jobs = overview(base, transport, timeout)
    except Unreachable as exc:
        module.exit_json(**dict(result, reachable=False, reason=str(exc)))
    except (HTTPError, ValueError) as exc:
        module.fail_json(msg="Listing the jobs at %s failed: %s" % (display, exc), **result)
    result["jobs"] = jobs
    running = [j for j in jobs if j["state"] not in TERMINAL]
    if not running:
        module.exit_json(**result)
    if module.check_mode:
        module.exit_json(**dict(result, changed=True, cancelled=[j["jid"] for j in running]))
    for job in running:
        if job["state"] == "CANCELLING":
            continue
        try:
            request(base, transport, "PATCH", "/jobs/%s?mode=cancel" % job["jid"], timeout)
        except (Unreachable, HTTPError, ValueError) as exc:
            module.fail_json(msg="Cancelling job %s (%s) at %s failed: %s" % (job["jid"], job["name"], display, exc),
                             **result)
        result["cancelled"].append(job["jid"])
    result["changed"] = bool(result["cancelled"])
    deadline = time.monotonic() + params["timeout"]
    ids = set(j["jid"] for j in running)
    while True:
        try:
            now = {j["jid"]: j for j in overview(base, transport, timeout) if j["jid"] in ids}
        except (Unreachable, HTTPError, ValueError) as exc:
            module.fail_json(msg="The JobManager at %s stopped answering while jobs were being cancelled: %s"
                             % (display, exc), **result)
        left = [j for j in now.values() if j["state"] not in TERMINAL]
        if not left:
            result["final_states"] = {jid: j["state"] for jid, j in now.items()}
            module.exit_json(**result)
        if time.monotonic() >= deadline:
            module.fail_json(
                msg="%d job(s) at %s are still not terminal %ss after cancelling: %s. Check the JobManager log; "
                    "the session cluster cannot be deleted while they run." % (
                        len(left), display, params["timeout"],
                        ", ".join("%s (%s, %s)" % (j["jid"], j["name"], j["state"]) for j in left)),
                **result)
        time.sleep(1)


def main():
    kwargs = dict(argument_spec=argument_spec(), supports_check_mode=True,
                  mutually_exclusive=[("url", "service")], required_one_of=[("url", "service")],
                  required_by={"service": "namespace"})
    if not HAS_K8S_COLLECTION:
        module = AnsibleModule(**kwargs)
        module.fail_json(msg="The kubernetes.core collection (6.x) is needed: ansible-galaxy collection install kubernetes.core",
                         exception=K8S_COLLECTION_ERROR)
    from ansible_collections.kubernetes.core.plugins.module_utils.k8s.core import AnsibleK8SModule
    module = AnsibleK8SModule(check_k8s=False, check_pyyaml=False, **kwargs)
    if not module.params["url"]:
        module.requires("kubernetes")
    run_module(module)


if __name__ == "__main__":
    main()
