# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A Flink SQL Gateway REST client that runs the call sequence Hue runs.

Hue's Flink connector (cloudera/hue ``desktop/libs/notebook/src/notebook/connectors/flink_sql.py``)
speaks REST API ``v3``: ``GET info``, ``POST sessions`` (``sessionName``), ``POST
sessions/{s}/heartbeat``, ``POST sessions/{s}/statements`` (one statement, trailing ``;``
stripped), ``GET operations/{o}/status``, ``GET operations/{o}/result/{token}`` from token 0
*without* ``rowFormat`` (the next token is cut out of ``nextResultUri``), ``DELETE
operations/{o}/close``, ``DELETE sessions/{s}``. :class:`SqlGatewayClient` does exactly that,
times every step, and always closes the operation and the session it opened.

HTTP goes through ``ansible.module_utils.urls`` only (its ``Request``, the class behind
``open_url``, with one SSL context built per client: ``open_url`` builds a new context and reads
the CA bundle on every call, 60-140 ms each here; for plain http no CA store is loaded at all). Two transports:

- direct: ``base_url`` is the gateway (``http://host:8083``);
- Kubernetes API server service proxy: ``base_url`` is
  ``<server>/api/v1/namespaces/<ns>/services/<name>:<port>/proxy`` and the request options
  (CA, client certificate/key, bearer token, impersonation) come from the kubernetes client
  configuration that kubernetes.core builds (:func:`k8s_transport`).

The functions above :class:`SqlGatewayClient` are pure (no I/O) and unit-tested.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re
import socket
import ssl
import time

from ansible.module_utils.urls import Request, make_context
from ansible.module_utils.six.moves.urllib.error import HTTPError, URLError

# REST API generation -> first Flink release that serves it (FACTS section 6).
API_VERSION_SINCE = {"v1": "1.16", "v2": "1.17", "v3": "1.20", "v4": "2.0"}
HUE_API_VERSION = "v3"

RUNNING_STATES = ("INITIALIZED", "PENDING", "RUNNING")
# Job states from SHOW JOBS that will not change any more.
JOB_TERMINAL_OK = ("FINISHED",)
JOB_TERMINAL_BAD = ("FAILED", "CANCELED", "SUSPENDED")

JOB_CHECK_ROWS = 1000
JOB_CHECK_STATEMENTS = (
    ("job_create_source",
     "CREATE TEMPORARY TABLE flinksql_studio_smoke_src (n BIGINT) WITH "
     "('connector' = 'datagen', 'number-of-rows' = '%d')" % JOB_CHECK_ROWS),
    ("job_create_sink",
     "CREATE TEMPORARY TABLE flinksql_studio_smoke_sink (n BIGINT) WITH "
     "('connector' = 'blackhole')"),
)
JOB_CHECK_INSERT = ("INSERT INTO flinksql_studio_smoke_sink "
                    "SELECT n FROM flinksql_studio_smoke_src")


# ----------------------------------------------------------------------------------------------
# errors
# ----------------------------------------------------------------------------------------------
class GatewayError(Exception):
    """Base class; ``kind`` names the failure for callers and the module's result."""

    kind = "error"

    def __init__(self, msg, step=None):
        super(GatewayError, self).__init__(msg)
        self.msg = msg
        self.step = step


class GatewayUnreachable(GatewayError):
    kind = "unreachable"


class ApiVersionMissing(GatewayError):
    kind = "api_version"


class StatementError(GatewayError):
    kind = "statement"


class GatewayTimeout(GatewayError):
    kind = "timeout"


class GatewayHttpError(GatewayError):
    """An HTTP error that is none of the above (4xx/5xx outside a statement)."""

    kind = "http"

    def __init__(self, msg, step=None, status=None, cause=None):
        super(GatewayHttpError, self).__init__(msg, step=step)
        self.status = status
        self.cause = cause or msg


class CleanupError(GatewayError):
    """The check passed but what it opened could not be closed."""

    kind = "cleanup"


# ----------------------------------------------------------------------------------------------
# pure logic
# ----------------------------------------------------------------------------------------------
def normalize_api_version(value):
    """``3``, ``'V3'``, ``'v3'`` -> ``'v3'``."""
    text = str(value).strip().lower()
    if text.isdigit():
        text = "v" + text
    if not re.match(r"^v\d+$", text):
        raise ValueError("api_version must look like v3 (got %r)" % (value,))
    return text


def served_versions(body):
    """``GET /api_versions`` body ``{"versions": ["V1", "V2"]}`` -> ``['v1', 'v2']`` (sorted)."""
    versions = (body or {}).get("versions") or []
    out = sorted({normalize_api_version(v) for v in versions}, key=lambda v: int(v[1:]))
    return out


def api_version_message(requested, served, where):
    """The error text when ``requested`` is not among ``served``."""
    served_text = ", ".join(served) if served else "no REST API version"
    if requested == HUE_API_VERSION:
        return ("Hue needs v3; this gateway serves %s: Flink older than %s (gateway %s). Run "
                "the gateway on Flink 1.20 or later." % (served_text, API_VERSION_SINCE["v3"], where))
    if requested in API_VERSION_SINCE:
        return ("REST API %s is not served; this gateway serves %s: Flink older than %s "
                "(gateway %s)" % (requested, served_text, API_VERSION_SINCE[requested], where))
    return ("REST API %s is not served; this gateway serves %s (gateway %s). No Flink release "
            "known to this module serves %s (known: %s; Hue needs v3)."
            % (requested, served_text, where, requested, ", ".join(sorted(API_VERSION_SINCE))))


def check_api_version(requested, served, where):
    """Raises :class:`ApiVersionMissing` unless ``requested`` is served."""
    if requested not in served:
        raise ApiVersionMissing(api_version_message(requested, served, where), step="api_versions")


_CLASS_PREFIX = re.compile(r"^(?:[a-z_$][\w$]*\.)+(?=[A-Z][\w$]*(?:Exception|Error|Throwable)\b)")
_NOISE = ("internal server error.", "<exception on server side:")


def _short_exception(line):
    line = line.strip()
    if line.startswith("Caused by:"):
        line = line[len("Caused by:"):].strip()
    return _CLASS_PREFIX.sub("", line)


def root_cause(error):
    """The line worth showing from a gateway error.

    ``error`` is a list of strings (the ``errors`` field), one string, or a JSON body. Like
    Hue's ``parse_error`` this takes the last ``Caused by:`` line of the Java stack trace; it also
    drops the package of the exception class. Without a stack trace it returns the first line
    that is not boilerplate. Kubernetes ``Status`` bodies (service proxy) give their ``message``.
    """
    if isinstance(error, (bytes, bytearray)):
        error = error.decode("utf-8", "replace")
    if isinstance(error, str):
        stripped = error.strip()
        if stripped.startswith("{"):
            try:
                error = json.loads(stripped)
            except ValueError:
                error = stripped
    if isinstance(error, dict):
        if error.get("kind") == "Status" and error.get("message"):
            return str(error["message"]).strip()
        error = error.get("errors") or error.get("message") or json.dumps(error)
    if isinstance(error, (list, tuple)):
        error = "\n".join(str(e) for e in error)
    lines = [ln for ln in str(error).splitlines() if ln.strip()]
    caused = [ln for ln in lines if ln.strip().startswith("Caused by:")]
    if caused:
        return _short_exception(caused[-1])
    for ln in lines:
        if ln.strip().lower() not in _NOISE and not ln.strip().startswith("at "):
            return _short_exception(ln)
    return str(error).strip() or "(empty error)"


def clean_statement(statement):
    """One statement as Hue sends it: surrounding space and trailing ``;`` removed."""
    text = (statement or "").strip().rstrip(";").strip()
    if not text:
        raise ValueError("statement is empty")
    return text


def next_token(next_result_uri):
    """Token from ``.../result/<token>?rowFormat=JSON`` (Hue: drop the query, take the last
    path segment); ``None`` when there is no next page."""
    if not next_result_uri:
        return None
    path = next_result_uri.rsplit("?", 1)[0].rstrip("/")
    last = path.rsplit("/", 1)[-1]
    return int(last) if last.isdigit() else None


def parse_result_page(body):
    """One ``result/{token}`` body -> dict(result_type, columns, rows, job_id, next_token,
    result_kind). ``columns`` are ``{"name", "type"}``; ``rows`` the ``fields`` lists."""
    body = body or {}
    results = body.get("results") or {}
    columns = [
        {"name": c.get("name"), "type": (c.get("logicalType") or {}).get("type")}
        for c in results.get("columns") or []
    ]
    rows = [d.get("fields") for d in results.get("data") or []]
    return {
        "result_type": body.get("resultType"),
        "result_kind": body.get("resultKind"),
        "columns": columns,
        "rows": rows,
        "job_id": body.get("jobID"),
        "next_token": None if body.get("resultType") == "EOS" else next_token(body.get("nextResultUri")),
    }


def job_status_from_rows(columns, rows, job_id):
    """``SHOW JOBS`` result -> the status of ``job_id`` (``None`` if not listed)."""
    names = [(c.get("name") or "").lower() for c in columns]
    try:
        id_col, status_col = names.index("job id"), names.index("status")
    except ValueError:
        id_col, status_col = 0, 2
    for row in rows:
        if len(row) > max(id_col, status_col) and row[id_col] == job_id:
            return row[status_col]
    return None


def service_proxy_base(host, namespace, service, port):
    """API server service-proxy prefix for ``service:port`` in ``namespace``."""
    if not (host and namespace and service):
        raise ValueError("service proxy needs the API server URL, a namespace and a service name")
    return "%s/api/v1/namespaces/%s/services/%s:%s/proxy" % (
        str(host).rstrip("/"), namespace, service, port)


def k8s_transport(configuration, extra_headers=None):
    """open_url options from a ``kubernetes.client.Configuration`` (as built by kubernetes.core's
    ``get_api_client``): ``dict(host, headers, ca_path, client_cert, client_key, validate_certs)``.

    A bearer token (``api_key['authorization']`` with its prefix, also what an exec plugin or a
    token file leaves there) becomes the ``Authorization`` header; username/password basic auth
    likewise. ``extra_headers`` (impersonation) are added; a list value must have one element
    because ``open_url`` sends each header once.
    """
    headers = {}
    token = None
    api_key = getattr(configuration, "api_key", None) or {}
    if api_key.get("authorization"):
        getter = getattr(configuration, "get_api_key_with_prefix", None)
        token = getter("authorization") if getter else api_key["authorization"]
        if token and not token.lower().startswith(("bearer ", "basic ")):
            token = "Bearer " + token
    elif getattr(configuration, "username", None) and getattr(configuration, "password", None):
        getter = getattr(configuration, "get_basic_auth_token", None)
        token = getter() if getter else None
    if token:
        headers["Authorization"] = token
    for name, value in (extra_headers or {}).items():
        if isinstance(value, (list, tuple)):
            if len(value) != 1:
                raise ValueError("%s with %d values cannot be sent by this module (one value only)"
                                 % (name, len(value)))
            value = value[0]
        headers[name] = value
    if getattr(configuration, "proxy", None):
        raise ValueError("the 'proxy' option is not supported by sql_gateway_smoke; set "
                         "https_proxy/no_proxy in the environment instead")
    verify = getattr(configuration, "verify_ssl", True)
    return {
        "host": str(configuration.host).rstrip("/"),
        "headers": headers,
        "ca_path": getattr(configuration, "ssl_ca_cert", None) or None,
        "client_cert": getattr(configuration, "cert_file", None) or None,
        "client_key": getattr(configuration, "key_file", None) or None,
        "validate_certs": True if verify is None else bool(verify),
    }


# ----------------------------------------------------------------------------------------------
# the client
# ----------------------------------------------------------------------------------------------
class Steps(object):
    """Wall time per named step (a step may span several requests, e.g. status polls)."""

    def __init__(self, clock=time.monotonic):
        self._clock = clock
        self.items = []

    def add(self, name, seconds, requests=1):
        for item in self.items:
            if item["name"] == name:
                item["seconds"] = round(item["seconds"] + seconds, 4)
                item["requests"] += requests
                return
        self.items.append({"name": name, "seconds": round(seconds, 4), "requests": requests})


class SqlGatewayClient(object):
    """Hue's REST sequence against one gateway.

    ``opener(method, url, data, headers, timeout)`` returns a response with ``read()``; the
    default sends through ``ansible.module_utils.urls.Request`` (tests pass a fake)."""

    def __init__(self, base_url, api_version=HUE_API_VERSION, timeout=120.0, request_timeout=30.0,
                 transport=None, display=None, opener=None, poll=(0.05, 0.5),
                 http_agent="flinksql.studio.sql_gateway_smoke", clock=time.monotonic,
                 sleep=time.sleep, service_proxy=False):
        self.base_url = base_url.rstrip("/")
        self.api_version = normalize_api_version(api_version)
        self.timeout = float(timeout)
        self.request_timeout = float(request_timeout)
        self.transport = dict(transport or {})
        self.display = display or self.base_url
        self.service_proxy = service_proxy
        self.http_agent = http_agent
        self.opener = opener or self._urls_opener()
        self.poll_min, self.poll_max = poll
        self.clock = clock
        self.sleep = sleep
        self.steps = Steps(clock)
        self.deadline = None
        self.session = None  # the last session opened (kept after closing, for reports)

    # --- plumbing -----------------------------------------------------------------------------
    def _urls_opener(self):
        validate = self.transport.get("validate_certs", True)
        if self.base_url.lower().startswith("https:"):
            context = make_context(
                cafile=self.transport.get("ca_path"), validate_certs=validate,
                client_cert=self.transport.get("client_cert"),
                client_key=self.transport.get("client_key"),
            )
        else:
            # Plain http never uses it, but Request builds make_context() (which loads the
            # system CA store, 50-140 ms here) whenever it is handed no context.
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        http = Request(use_proxy=True, validate_certs=validate, http_agent=self.http_agent,
                       follow_redirects="none", use_netrc=False, context=context)

        def opener(method, url, data, headers, timeout):
            return http.open(method, url, data=data, headers=headers, timeout=timeout)

        return opener

    def _remaining(self):
        if self.deadline is None:
            return self.timeout
        return self.deadline - self.clock()

    def _check_deadline(self, what):
        if self._remaining() <= 0:
            raise GatewayTimeout("timed out after %.0fs %s (gateway %s)"
                                 % (self.timeout, what, self.display), step=what)

    def request(self, method, path, body=None, step=None, cleanup=False):
        """One JSON request; returns the decoded body. Maps failures onto the typed errors."""
        url = self.base_url + path
        headers = {"Accept": "application/json"}
        headers.update(self.transport.get("headers") or {})
        data = None
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        remaining = self._remaining()
        if remaining <= 0 and not cleanup:
            raise GatewayTimeout("timed out after %.0fs before %s %s (gateway %s)"
                                 % (self.timeout, method, path, self.display), step=step)
        per_request = min(self.request_timeout, remaining) if not cleanup else self.request_timeout
        per_request = max(per_request, 1.0)
        started = self.clock()
        try:
            resp = self.opener(method, url, data, headers, per_request)
            raw = resp.read()
        except HTTPError as exc:
            raw = b""
            try:
                raw = exc.read() or b""
            except Exception:  # pragma: no cover - body already consumed
                pass
            raise self._http_error(exc.code, raw, method, path, step)
        except (socket.timeout, TimeoutError) as exc:
            raise GatewayTimeout("no answer within %.0fs to %s %s (gateway %s): %s"
                                 % (per_request, method, path, self.display, exc), step=step)
        except URLError as exc:
            reason = getattr(exc, "reason", exc)
            if isinstance(reason, (socket.timeout, TimeoutError)):
                raise GatewayTimeout("no answer within %.0fs to %s %s (gateway %s)"
                                     % (per_request, method, path, self.display), step=step)
            raise GatewayUnreachable("cannot reach the SQL Gateway at %s: %s"
                                     % (self.display, reason), step=step)
        except (OSError, Exception) as exc:  # ansible's ConnectionError/SSLValidationError & co
            if isinstance(exc, GatewayError):
                raise
            raise GatewayUnreachable("cannot reach the SQL Gateway at %s: %s"
                                     % (self.display, exc), step=step)
        finally:
            if step:
                self.steps.add(step, self.clock() - started)
        if not raw:
            return {}
        try:
            return json.loads(raw)
        except ValueError:
            raise GatewayHttpError("%s %s at %s answered with non-JSON: %r"
                                   % (method, path, self.display, raw[:200]), step=step)

    def _http_error(self, code, raw, method, path, step):
        cause = root_cause(raw) if raw else "HTTP %s" % code
        where = "%s %s (gateway %s)" % (method, path, self.display)
        if self.service_proxy and code in (401, 403):
            return GatewayHttpError(
                "the Kubernetes API server refused the service proxy request (%s): %s. The "
                "credentials need 'get' on services/proxy in the namespace." % (code, cause),
                step=step, status=code)
        if self.service_proxy and code in (502, 503):
            return GatewayUnreachable("cannot reach the SQL Gateway at %s through the API "
                                      "server (HTTP %s): %s" % (self.display, code, cause), step=step)
        return GatewayHttpError("HTTP %s from %s: %s" % (code, where, cause), step=step, status=code,
                                cause=cause)

    def _pause(self, delay, step):
        """Sleeps between polls; the wait counts towards the step's time."""
        started = self.clock()
        self.sleep(delay)
        self.steps.add(step, self.clock() - started, requests=0)

    def _v(self, path):
        return "/%s%s" % (self.api_version, path)

    # --- the REST calls -----------------------------------------------------------------------
    def api_versions(self):
        return served_versions(self.request("GET", "/api_versions", step="api_versions"))

    def info(self):
        return self.request("GET", self._v("/info"), step="info")

    def open_session(self, name):
        body = self.request("POST", self._v("/sessions"), {"sessionName": name}, step="open_session")
        self.session = body["sessionHandle"]
        return self.session

    def heartbeat(self, session):
        return self.request("POST", self._v("/sessions/%s/heartbeat" % session), step="heartbeat")

    def get_session(self, session):
        return self.request("GET", self._v("/sessions/%s" % session), step="get_session")

    def execute(self, session, statement, step="execute"):
        body = self.request("POST", self._v("/sessions/%s/statements" % session),
                            {"statement": clean_statement(statement)}, step=step)
        return body["operationHandle"]

    def status(self, session, operation, step="poll_status"):
        body = self.request("GET", self._v("/sessions/%s/operations/%s/status" % (session, operation)),
                            step=step)
        return body.get("status")

    def fetch(self, session, operation, token, step="fetch_results"):
        return self.request("GET", self._v("/sessions/%s/operations/%s/result/%s"
                                           % (session, operation, token)), step=step)

    def close_operation(self, session, operation, step="close_operation"):
        return self.request("DELETE", self._v("/sessions/%s/operations/%s/close"
                                              % (session, operation)), step=step, cleanup=True)

    def close_session(self, session, step="close_session"):
        return self.request("DELETE", self._v("/sessions/%s" % session), step=step, cleanup=True)

    # --- sequences ----------------------------------------------------------------------------
    def _wait_operation(self, session, operation, statement, name):
        delay = self.poll_min
        status = None
        while True:
            status = self.status(session, operation, step=name("poll_status"))
            if status not in RUNNING_STATES:
                return status
            if self._remaining() <= delay:
                raise GatewayTimeout(
                    "timed out after %.0fs waiting for statement %r (operation %s still %s; "
                    "gateway %s)" % (self.timeout, statement, operation, status, self.display),
                    step=name("poll_status"))
            self._pause(delay, name("poll_status"))
            delay = min(delay * 2, self.poll_max)

    def _statement_error(self, session, operation, statement, name, status):
        """The gateway reports ERROR: its error text comes with the result request (HTTP 500)."""
        try:
            self.fetch(session, operation, 0, step=name("fetch_results"))
        except GatewayHttpError as exc:
            cause = exc.cause
        else:
            cause = "operation ended as %s without an error text" % status
        return StatementError("statement %r failed on the gateway %s: %s"
                              % (statement, self.display, cause), step=name("execute"))

    def run_statement(self, session, statement, step=None):
        """execute -> poll status -> fetch every page until EOS -> close (always).

        Requests are timed as ``execute``/``poll_status``/``fetch_results``/``close_operation``,
        or all under one ``step`` name when given (the job check's statements)."""
        def name(part):
            return step or part

        statement = clean_statement(statement)
        operation = self.execute(session, statement, step=name("execute"))
        try:
            status = self._wait_operation(session, operation, statement, name)
            if status != "FINISHED":
                if status == "ERROR":
                    raise self._statement_error(session, operation, statement, name, status)
                raise StatementError("statement %r ended as %s on the gateway %s"
                                     % (statement, status, self.display), step=name("poll_status"))
            columns, rows, job_id, token = [], [], None, 0
            delay = self.poll_min
            while token is not None:
                try:
                    page = parse_result_page(self.fetch(session, operation, token,
                                                        step=name("fetch_results")))
                except GatewayHttpError as exc:
                    raise StatementError("statement %r failed on the gateway %s: %s"
                                         % (statement, self.display, exc.cause),
                                         step=name("fetch_results"))
                if page["result_type"] != "NOT_READY":
                    columns = page["columns"] or columns
                    rows.extend(page["rows"])
                    job_id = job_id or page["job_id"]
                    token = page["next_token"]
                if page["result_type"] == "EOS" or token is None:
                    break
                if page["rows"]:
                    delay = self.poll_min
                    continue
                # NOT_READY, or an empty page of a query still running: back off, as polling does
                self._check_deadline("waiting for the results of %r" % statement)
                self._pause(delay, name("fetch_results"))
                delay = min(delay * 2, self.poll_max)
            return {"operation": operation, "columns": columns, "rows": rows, "job_id": job_id}
        finally:
            self.close_operation(session, operation, step=name("close_operation"))

    def wait_job(self, session, job_id):
        """Polls ``SHOW JOBS`` until ``job_id`` is FINISHED; raises on FAILED/CANCELED/timeout."""
        delay = 0.25
        status = None
        while True:
            result = self.run_statement(session, "SHOW JOBS", step="job_wait")
            status = job_status_from_rows(result["columns"], result["rows"], job_id)
            if status in JOB_TERMINAL_OK:
                return status
            if status in JOB_TERMINAL_BAD:
                raise StatementError("the check job %s ended as %s on the session cluster behind "
                                     "the gateway %s" % (job_id, status, self.display),
                                     step="job_wait")
            if self._remaining() <= delay:
                raise GatewayTimeout("timed out after %.0fs waiting for the check job %s to finish "
                                     "(last status %s; gateway %s)"
                                     % (self.timeout, job_id, status or "not listed", self.display),
                                     step="job_wait")
            self._pause(delay, "job_wait")
            delay = min(delay * 2, 1.0)

    def smoke(self, statement="SELECT 1", session_name="flinksql.studio-smoke", job_check=False):
        """The whole check. Returns dict(flink_version, api_versions, api_version, columns, rows,
        steps, job, session_handle, elapsed). Raises a :class:`GatewayError` subclass."""
        started = self.clock()
        self.deadline = started + self.timeout
        result = {"api_version": self.api_version, "url": self.display}
        versions = self.api_versions()
        result["api_versions"] = versions
        check_api_version(self.api_version, versions, self.display)
        info = self.info()
        result["flink_version"] = info.get("version")
        result["product_name"] = info.get("productName")
        session = self.open_session(session_name)
        result["session_handle"] = session
        failure = None
        try:
            self.heartbeat(session)
            out = self.run_statement(session, statement)
            result.update(columns=out["columns"], rows=out["rows"])
            if job_check:
                job_started = self.clock()
                for step, text in JOB_CHECK_STATEMENTS:
                    self.run_statement(session, text, step=step)
                submitted = self.run_statement(session, JOB_CHECK_INSERT, step="job_submit")
                job_id = submitted["job_id"] or (submitted["rows"][0][0] if submitted["rows"] else None)
                if not job_id:
                    raise StatementError("the check job's INSERT returned no job id (gateway %s)"
                                         % self.display, step="job_submit")
                status = self.wait_job(session, job_id)
                result["job"] = {"id": job_id, "status": status, "rows": JOB_CHECK_ROWS,
                                 "seconds": round(self.clock() - job_started, 3)}
        except BaseException as exc:
            failure = exc
            raise
        finally:
            try:
                self.close_session(session)
            except GatewayError as exc:
                if failure is None:
                    raise CleanupError("the check passed but session %s could not be closed: %s"
                                       % (session, exc.msg), step="close_session")
                if isinstance(failure, GatewayError):
                    failure.msg += " (and closing session %s failed: %s)" % (session, exc.msg)
                    failure.args = (failure.msg,)
            result["steps"] = self.steps.items
            result["elapsed"] = round(self.clock() - started, 3)
        return result
