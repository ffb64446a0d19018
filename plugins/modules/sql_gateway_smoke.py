#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: sql_gateway_smoke
short_description: Prove that a Flink SQL Gateway can serve Hue, by running Hue's own REST sequence
version_added: 0.1.0
author:
  - Flink SQL Studio maintainers (@flinksql-studio)
description:
  - Runs against a Flink SQL Gateway the REST call sequence that Hue's Flink connector runs, on the
    REST API version Hue needs (C(v3) by default), and reports what it found. A C(GET /info)
    alone proves little; this proves the whole sequence works.
  - "The sequence: C(GET /api_versions) (the versions served), C(GET /<v>/info) (the Flink
    version), C(POST sessions) with a C(sessionName), C(POST sessions/{s}/heartbeat),
    C(POST sessions/{s}/statements) with I(statement) (trailing C(;) stripped), C(GET
    operations/{o}/status) until it leaves RUNNING, C(GET operations/{o}/result/{token}) from
    token 0 without C(rowFormat), the next token taken from C(nextResultUri), until
    C(resultType) is C(EOS), C(DELETE operations/{o}/close), C(DELETE sessions/{s})."
  - With I(job_check), it also submits a real job to the session cluster behind the gateway (a
    bounded C(datagen) source of 1000 rows into a C(blackhole) sink, as temporary tables of its
    own session) and waits, through C(SHOW JOBS) on the gateway, until the job is C(FINISHED).
  - The operation and the session it opened are always closed, also when a step fails.
  - Reaches the gateway either directly by I(url), or by I(service) and I(namespace) through the
    Kubernetes API server's service proxy
    (C(<server>/api/v1/namespaces/<namespace>/services/<service>:<port>/proxy/...)) with the
    kubeconfig's credentials, so it works from a laptop or AWX without a port-forward or an
    Ingress. The credentials need C(get) on C(services/proxy) in that namespace. Where
    NetworkPolicy is enforced, the proxied request arrives from the API server's address and
    must be admitted to the gateway port.
  - Uses only Ansible's own HTTP helpers (C(ansible.module_utils.urls)); the C(kubernetes)
    Python library is needed only for the service-proxy transport (to read the kubeconfig).
  - Read-only towards the cluster state this collection manages, so C(changed) is always false;
    check mode runs the full check. The job check does run a short job on the session cluster.
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
options:
  url:
    description:
      - Base URL of the gateway, for example C(http://analytics-sql-gateway.flink-studio-analytics.svc:8083).
      - Mutually exclusive with I(service).
      - The kubernetes.core auth options are not used with I(url).
    type: str
  service:
    description:
      - Name of the gateway's Service, reached through the API server's service proxy.
      - Requires I(namespace).
    type: str
  namespace:
    description:
      - Namespace of I(service).
    type: str
  port:
    description:
      - Service port, number or name.
    type: str
    default: "8083"
  api_version:
    description:
      - REST API version to use. Hue's client hard-codes C(v3), served from Flink 1.20 on.
      - The check fails with the list of served versions when the gateway does not serve it.
    type: str
    default: v3
  statement:
    description:
      - The one SQL statement to run and fetch, as a Hue user would.
    type: str
    default: SELECT 1
  timeout:
    description:
      - Seconds the whole check may take, job check included. On a fresh gateway the first
        C(SELECT 1) compiles and runs a job on the session cluster, which can take tens of
        seconds on a small cluster.
    type: int
    default: 120
  job_check:
    description:
      - Also submit a bounded C(datagen) to C(blackhole) C(INSERT) job and wait until the
        session cluster reports it C(FINISHED).
    type: bool
    default: false
  session_name:
    description:
      - The C(sessionName) of the gateway session the check opens (and closes).
    type: str
    default: flinksql.studio-smoke
requirements:
  - "python >= 3.9"
  - "kubernetes >= 24.2.0 (only with I(service))"
  - the C(kubernetes.core) collection
notes:
  - The gateway has no authentication. Only NetworkPolicy (and Hue's login) protects it.
  - I(api_key), I(client_cert)/I(client_key), I(ca_cert), I(validate_certs), I(kubeconfig),
    I(context), I(host), I(username)/I(password), I(impersonate_user) and one
    I(impersonate_groups) entry are honoured for the service proxy. I(proxy) is not (set
    C(https_proxy) in the environment instead).
seealso:
  - module: flinksql.studio.flinkdeployment_wait
  - name: Flink SQL Gateway REST API
    description: The REST endpoint's reference.
    link: https://nightlies.apache.org/flink/flink-docs-stable/docs/dev/table/sql-gateway/rest/
"""

EXAMPLES = r"""
- name: Check a gateway the controller can reach directly
  flinksql.studio.sql_gateway_smoke:
    url: http://analytics-sql-gateway.flink-studio-analytics.svc:8083
  register: smoke

- name: Check a tenant's gateway through the API server (no port-forward), with a real job
  flinksql.studio.sql_gateway_smoke:
    service: analytics-sql-gateway
    namespace: flink-studio-analytics
    kubeconfig: "{{ lookup('ansible.builtin.env', 'KUBECONFIG') }}"
    job_check: true
    timeout: 180

- name: Show what Hue will see
  ansible.builtin.debug:
    msg: "Flink {{ smoke.flink_version }}, APIs {{ smoke.api_versions | join(', ') }}, rows {{ smoke.rows }}"
"""

RETURN = r"""
url:
  description: Where the check went (the gateway URL, or the service and the API server).
  returned: always
  type: str
  sample: http://127.0.0.1:8083
api_version:
  description: The REST API version the check used.
  returned: always
  type: str
  sample: v3
api_versions:
  description: The REST API versions the gateway serves (C(GET /api_versions)).
  returned: when the gateway answered
  type: list
  elements: str
  sample: [v1, v2, v3, v4]
flink_version:
  description: The gateway's Flink version (C(GET /<v>/info)).
  returned: success
  type: str
  sample: 2.2.1
product_name:
  description: The gateway's product name (C(GET /<v>/info)).
  returned: success
  type: str
  sample: Apache Flink
columns:
  description: Columns of the statement's result.
  returned: success
  type: list
  elements: dict
  sample: [{name: EXPR$0, type: INTEGER}]
rows:
  description: Rows of the statement's result, each a list of field values.
  returned: success
  type: list
  elements: list
  sample: [[1]]
job:
  description: The check job, when I(job_check) is true.
  returned: success and I(job_check)
  type: dict
  contains:
    id:
      description: Flink job id.
      type: str
      sample: 98ee8098e66753c9c6cd036c74459cc1
    status:
      description: The job's final status as C(SHOW JOBS) reported it.
      type: str
      sample: FINISHED
    rows:
      description: Rows the bounded source produced.
      type: int
      sample: 1000
    seconds:
      description: Seconds from the first job statement until the job was seen finished.
      type: float
      sample: 2.2
steps:
  description:
    - Wall time per step, in order. Polling steps include the pauses between polls; C(requests)
      counts the HTTP requests of the step.
  returned: always
  type: list
  elements: dict
  sample:
    - {name: api_versions, seconds: 0.004, requests: 1}
    - {name: info, seconds: 0.003, requests: 1}
    - {name: open_session, seconds: 0.02, requests: 1}
    - {name: heartbeat, seconds: 0.006, requests: 1}
    - {name: execute, seconds: 0.02, requests: 1}
    - {name: poll_status, seconds: 0.9, requests: 5}
    - {name: fetch_results, seconds: 0.1, requests: 3}
    - {name: close_operation, seconds: 0.05, requests: 1}
    - {name: close_session, seconds: 0.02, requests: 1}
session_handle:
  description: The gateway session the check opened and closed (also on failure).
  returned: when a session was opened
  type: str
elapsed:
  description: Seconds the whole check took.
  returned: always
  type: float
error_kind:
  description: >-
    On failure, what failed: C(unreachable), C(api_version), C(statement), C(timeout), C(http),
    C(cleanup) (the check passed but the session could not be closed) or C(config).
  returned: failure
  type: str
failed_step:
  description: On failure, the step that failed.
  returned: failure
  type: str
"""

import time
import traceback

from ansible.module_utils.basic import AnsibleModule

try:
    from ansible_collections.kubernetes.core.plugins.module_utils.args_common import (
        AUTH_ARG_SPEC,
    )
    from ansible_collections.kubernetes.core.plugins.module_utils.k8s.core import (
        AnsibleK8SModule,
    )

    HAS_K8S_COLLECTION = True
    K8S_COLLECTION_ERROR = None
except ImportError:
    HAS_K8S_COLLECTION = False
    K8S_COLLECTION_ERROR = traceback.format_exc()
    AUTH_ARG_SPEC = {"kubeconfig": {"type": "raw", "no_log": True}, "context": {}}

from ansible_collections.flinksql.studio.plugins.module_utils.sql_gateway_client import (
    GatewayError,
    SqlGatewayClient,
    k8s_transport,
    normalize_api_version,
    service_proxy_base,
)


def argument_spec():
    spec = {key: dict(value) for key, value in AUTH_ARG_SPEC.items()}
    spec.update(
        url=dict(type="str"),
        service=dict(type="str"),
        namespace=dict(type="str"),
        port=dict(type="str", default="8083"),
        api_version=dict(type="str", default="v3"),
        statement=dict(type="str", default="SELECT 1"),
        timeout=dict(type="int", default=120),
        job_check=dict(type="bool", default=False),
        session_name=dict(type="str", default="flinksql.studio-smoke"),
    )
    return spec


MODULE_KWARGS = dict(
    supports_check_mode=True,
    mutually_exclusive=[("url", "service")],
    required_one_of=[("url", "service")],
    required_by={"service": "namespace"},
)


def impersonation_headers(api_client):
    """Impersonate-* default headers kubernetes.core set on its ApiClient, one list per name."""
    headers = {}
    for name, value in (getattr(api_client, "default_headers", None) or {}).items():
        if str(name).lower().startswith("impersonate-"):
            headers.setdefault(str(name), []).append(value)
    return headers


def proxy_transport(module):
    """Base URL, open_url options and a display name for the API server's service proxy."""
    from ansible_collections.kubernetes.core.plugins.module_utils.k8s.client import (
        get_api_client,
    )
    from ansible_collections.kubernetes.core.plugins.module_utils.k8s.exceptions import (
        CoreException,
    )

    module.requires("kubernetes")
    params = module.params
    try:
        k8s = get_api_client(module=module)
    except CoreException as exc:
        module.fail_json(msg="Cannot read the Kubernetes credentials for the service proxy: %s"
                         % exc, error_kind="config", elapsed=0.0, steps=[])
    api_client = getattr(k8s.client, "client", None)
    try:
        transport = k8s_transport(k8s.configuration, impersonation_headers(api_client))
    except ValueError as exc:
        module.fail_json(msg=str(exc), error_kind="config", elapsed=0.0, steps=[])
    base = service_proxy_base(transport["host"], params["namespace"], params["service"],
                              params["port"])
    display = "service %s/%s:%s via the API server %s" % (
        params["namespace"], params["service"], params["port"], transport["host"])
    return base, transport, display


def run_module(module):
    params = module.params
    try:
        api_version = normalize_api_version(params["api_version"])
    except ValueError as exc:
        module.fail_json(msg=str(exc), error_kind="config", elapsed=0.0, steps=[])
    if params["timeout"] <= 0:
        module.fail_json(msg="timeout must be more than 0 seconds, got %s" % params["timeout"],
                         error_kind="config", elapsed=0.0, steps=[])
    if not (params["statement"] or "").strip().rstrip(";").strip():
        module.fail_json(msg="statement is empty", error_kind="config", elapsed=0.0, steps=[])

    service_proxy = not params["url"]
    if service_proxy:
        base, transport, display = proxy_transport(module)
    else:
        base, transport, display = params["url"].rstrip("/"), {}, params["url"].rstrip("/")

    started = time.monotonic()
    client = SqlGatewayClient(base, api_version=api_version, timeout=params["timeout"],
                              transport=transport, display=display, service_proxy=service_proxy)
    try:
        result = client.smoke(statement=params["statement"], session_name=params["session_name"],
                              job_check=params["job_check"])
    except GatewayError as exc:
        module.fail_json(
            msg=exc.msg, error_kind=exc.kind, failed_step=exc.step, url=display,
            api_version=api_version, steps=client.steps.items, session_handle=client.session,
            elapsed=round(time.monotonic() - started, 3), changed=False,
        )
    module.exit_json(changed=False, **result)


def main():
    if not HAS_K8S_COLLECTION:
        module = AnsibleModule(argument_spec=argument_spec(), **MODULE_KWARGS)
        module.fail_json(
            msg="The kubernetes.core collection (6.x) is needed by flinksql.studio."
            "sql_gateway_smoke: install it with `ansible-galaxy collection install "
            "kubernetes.core` (it also ships with the `ansible` package).",
            exception=K8S_COLLECTION_ERROR,
        )
    # The kubernetes library is only needed for the service proxy (checked there).
    module = AnsibleK8SModule(argument_spec=argument_spec(), check_k8s=False,
                              check_pyyaml=False, **MODULE_KWARGS)
    run_module(module)


if __name__ == "__main__":
    main()
