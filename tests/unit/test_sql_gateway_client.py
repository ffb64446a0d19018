"""Pure logic of the SQL Gateway client, and the client's sequence over a scripted fake opener.

The bodies below are what the real Flink 2.2.1 gateway answered (captured from the fixture in
tests/fixtures/gateway.py), shortened.
"""
import io
import json
from types import SimpleNamespace
from urllib.error import HTTPError, URLError

import pytest

from ansible_collections.flinksql.studio.plugins.module_utils import sql_gateway_client as sgc

S = "2acdd501-ab7a-4b38-b212-c8fc61a93817"
O = "f03a3069-8a91-4674-bce4-845a7c849f8d"

PAGE_SELECT_1 = {
    "resultType": "PAYLOAD", "isQueryResult": True, "jobID": "d0a1743e68e67d1bf81308098d88f676",
    "resultKind": "SUCCESS_WITH_CONTENT",
    "results": {"columns": [{"name": "EXPR$0", "logicalType": {"type": "INTEGER", "nullable": False},
                             "comment": None}],
                "rowFormat": "JSON", "data": [{"kind": "INSERT", "fields": [1]}]},
    "nextResultUri": "/v3/sessions/%s/operations/%s/result/1?rowFormat=JSON" % (S, O),
}
PAGE_NOT_READY = {"resultType": "NOT_READY",
                  "nextResultUri": "/v3/sessions/%s/operations/%s/result/0?rowFormat=JSON" % (S, O)}
PAGE_EOS = {"resultType": "EOS", "results": {"columns": [], "data": []},
            "nextResultUri": None}

# errors[] of `GET .../result/0` after `SELECT * FROM no_such_table` (HTTP 500), cut down.
VALIDATION_ERRORS = [
    "Internal server error.",
    "<Exception on server side:\norg.apache.flink.table.gateway.api.utils.SqlGatewayException: "
    "org.apache.flink.table.gateway.api.utils.SqlGatewayException: Failed to fetchResults.\n"
    "\tat org.apache.flink.table.gateway.rest.handler.statement.FetchResultsHandler.handleRequest("
    "FetchResultsHandler.java:91)\n"
    "Caused by: org.apache.flink.table.gateway.service.utils.SqlExecutionException: Failed to "
    "execute the operation c53d0b0d.\n"
    "Caused by: org.apache.flink.table.api.ValidationException: SQL validation failed. From line 1, "
    "column 15 to line 1, column 27: Object 'no_such_table' not found\n"
    "\tat org.apache.flink.table.planner.calcite.FlinkPlannerImpl.validate(FlinkPlannerImpl.scala:200)\n"
    "Caused by: org.apache.calcite.sql.validate.SqlValidatorException: Object 'no_such_table' not "
    "found\n\t... 24 more\n\nEnd of exception on server side>",
]


# ---------------------------------------------------------------------------------------------
# pure functions
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("value,expected", [("v3", "v3"), ("V3", "v3"), (3, "v3"), (" v4 ", "v4")])
def test_normalize_api_version(value, expected):
    assert sgc.normalize_api_version(value) == expected


@pytest.mark.parametrize("value", ["three", "v", "3.0", ""])
def test_normalize_api_version_rejects(value):
    with pytest.raises(ValueError):
        sgc.normalize_api_version(value)


def test_served_versions_sorted_lowercase():
    assert sgc.served_versions({"versions": ["V2", "V1", "V10", "V3"]}) == ["v1", "v2", "v3", "v10"]
    assert sgc.served_versions({}) == []


def test_hue_message_for_an_old_gateway():
    with pytest.raises(sgc.ApiVersionMissing) as err:
        sgc.check_api_version("v3", ["v1", "v2"], "http://gw:8083")
    assert err.value.msg.startswith("Hue needs v3; this gateway serves v1, v2: Flink older than 1.20")
    assert "http://gw:8083" in err.value.msg
    assert err.value.kind == "api_version"


def test_message_for_a_known_newer_version():
    msg = sgc.api_version_message("v4", ["v1", "v2", "v3"], "gw")
    assert "v4 is not served; this gateway serves v1, v2, v3: Flink older than 2.0" in msg


def test_message_for_an_unknown_version_lists_served():
    msg = sgc.api_version_message("v9", ["v1", "v2", "v3", "v4"], "gw")
    assert "this gateway serves v1, v2, v3, v4" in msg and "v9" in msg


def test_served_version_passes():
    sgc.check_api_version("v3", ["v1", "v2", "v3", "v4"], "gw")


def test_root_cause_takes_last_caused_by_without_package():
    assert sgc.root_cause(VALIDATION_ERRORS) == "SqlValidatorException: Object 'no_such_table' not found"
    # the same from a raw JSON body
    body = json.dumps({"errors": VALIDATION_ERRORS}).encode()
    assert sgc.root_cause(body) == "SqlValidatorException: Object 'no_such_table' not found"


def test_root_cause_without_stack_trace():
    assert sgc.root_cause({"errors": ["Not found: /v9/info"]}) == "Not found: /v9/info"
    assert sgc.root_cause("plain text") == "plain text"


def test_root_cause_of_a_kubernetes_status():
    status = {"kind": "Status", "apiVersion": "v1", "status": "Failure",
              "message": 'services "gw" not found', "reason": "NotFound", "code": 404}
    assert sgc.root_cause(json.dumps(status)) == 'services "gw" not found'


def test_root_cause_session_gone():
    errors = ["org.apache.flink.runtime.rest.handler.RestHandlerException: Failed to getSessionConfig.\n"
              "\tat x.y(Z.java:1)\nCaused by: org.apache.flink.table.gateway.api.utils."
              "SqlGatewayException: Session '570f' does not exist.\n\t... 3 more\n"]
    assert sgc.root_cause(errors) == "SqlGatewayException: Session '570f' does not exist."


@pytest.mark.parametrize("text,expected", [
    ("SELECT 1;", "SELECT 1"), ("  SELECT 1 ;; \n", "SELECT 1"), ("SHOW JOBS", "SHOW JOBS")])
def test_clean_statement(text, expected):
    assert sgc.clean_statement(text) == expected


def test_clean_statement_rejects_empty():
    with pytest.raises(ValueError):
        sgc.clean_statement(" ; ")


@pytest.mark.parametrize("uri,token", [
    ("/v3/sessions/a/operations/b/result/1?rowFormat=JSON", 1),
    ("/v3/sessions/a/operations/b/result/12", 12),
    (None, None), ("", None), ("/v3/sessions/a/operations/b/result/x", None)])
def test_next_token(uri, token):
    assert sgc.next_token(uri) == token


def test_parse_result_pages():
    page = sgc.parse_result_page(PAGE_SELECT_1)
    assert page == {"result_type": "PAYLOAD", "result_kind": "SUCCESS_WITH_CONTENT",
                    "columns": [{"name": "EXPR$0", "type": "INTEGER"}], "rows": [[1]],
                    "job_id": "d0a1743e68e67d1bf81308098d88f676", "next_token": 1}
    assert sgc.parse_result_page(PAGE_NOT_READY)["next_token"] == 0
    eos = sgc.parse_result_page(dict(PAGE_EOS, nextResultUri="/v3/x/result/3"))
    assert eos["next_token"] is None and eos["rows"] == []


def test_job_status_from_show_jobs():
    columns = [{"name": "job id"}, {"name": "job name"}, {"name": "status"}, {"name": "start time"}]
    rows = [["aaa", "insert-into_x", "RUNNING", "t"], ["bbb", "insert-into_y", "FINISHED", "t"]]
    assert sgc.job_status_from_rows(columns, rows, "bbb") == "FINISHED"
    assert sgc.job_status_from_rows(columns, rows, "ccc") is None


def test_service_proxy_base():
    assert (sgc.service_proxy_base("https://10.0.0.1:6443/", "flink-studio-a", "a-sql-gateway", 8083)
            == "https://10.0.0.1:6443/api/v1/namespaces/flink-studio-a/services/a-sql-gateway:8083/proxy")
    assert sgc.service_proxy_base("https://h", "ns", "gw", "http").endswith("/services/gw:http/proxy")
    with pytest.raises(ValueError):
        sgc.service_proxy_base("https://h", "", "gw", 8083)


class FakeConfiguration(SimpleNamespace):
    """The attributes kubernetes.client.Configuration has, and its two auth helpers."""

    api_key_prefix = {}

    def get_api_key_with_prefix(self, key):
        prefix = self.api_key_prefix.get(key)
        value = self.api_key.get(key)
        return "%s %s" % (prefix, value) if prefix else value

    def get_basic_auth_token(self):
        import base64
        return "Basic " + base64.b64encode(("%s:%s" % (self.username, self.password)).encode()).decode()


def k8s_conf(**kw):
    base = dict(host="https://127.0.0.1:6443/", api_key={}, username=None, password=None,
                ssl_ca_cert=None, cert_file=None, key_file=None, verify_ssl=True, proxy=None)
    base.update(kw)
    return FakeConfiguration(**base)


def test_k8s_transport_client_certificate():
    t = sgc.k8s_transport(k8s_conf(ssl_ca_cert="/tmp/ca.crt", cert_file="/tmp/c.crt",
                                   key_file="/tmp/c.key"))
    assert t == {"host": "https://127.0.0.1:6443", "headers": {}, "ca_path": "/tmp/ca.crt",
                 "client_cert": "/tmp/c.crt", "client_key": "/tmp/c.key", "validate_certs": True}


def test_k8s_transport_bearer_token_as_kubernetes_core_sets_it():
    # kubernetes.core puts {"authorization": "Bearer <token>"} for the api_key option
    t = sgc.k8s_transport(k8s_conf(api_key={"authorization": "Bearer abc"}, verify_ssl=False))
    assert t["headers"] == {"Authorization": "Bearer abc"} and t["validate_certs"] is False


def test_k8s_transport_token_with_prefix_and_bare_token():
    conf = k8s_conf(api_key={"authorization": "abc"})
    conf.api_key_prefix = {"authorization": "Bearer"}
    assert sgc.k8s_transport(conf)["headers"]["Authorization"] == "Bearer abc"
    assert sgc.k8s_transport(k8s_conf(api_key={"authorization": "xyz"}))["headers"][
        "Authorization"] == "Bearer xyz"


def test_k8s_transport_basic_auth_and_impersonation():
    t = sgc.k8s_transport(k8s_conf(username="u", password="p"),
                          {"Impersonate-User": ["alice"], "Impersonate-Group": ["ops"]})
    assert t["headers"]["Authorization"] == "Basic dTpw"
    assert t["headers"]["Impersonate-User"] == "alice"
    assert t["headers"]["Impersonate-Group"] == "ops"


def test_k8s_transport_refuses_what_it_cannot_send():
    with pytest.raises(ValueError, match="Impersonate-Group with 2 values"):
        sgc.k8s_transport(k8s_conf(), {"Impersonate-Group": ["a", "b"]})
    with pytest.raises(ValueError, match="proxy"):
        sgc.k8s_transport(k8s_conf(proxy="http://proxy:3128"))


# ---------------------------------------------------------------------------------------------
# the sequence, over a scripted opener (no sockets)
# ---------------------------------------------------------------------------------------------
class Resp:
    def __init__(self, body):
        self._raw = b"" if body is None else json.dumps(body).encode()

    def read(self):
        return self._raw


class ScriptedGateway:
    """Answers by (method, path suffix) from a script; records every request."""

    def __init__(self, base, routes):
        self.base = base
        self.routes = routes  # list of (method, path-suffix, body-or-exception-or-list)
        self.calls = []

    def __call__(self, method, url, data, headers, timeout):
        path = url[len(self.base):]
        self.calls.append((method, path, json.loads(data) if data else None, headers))
        for m, suffix, answer in self.routes:
            if m == method and path.endswith(suffix):
                if isinstance(answer, list):
                    answer = answer.pop(0) if len(answer) > 1 else answer[0]
                if isinstance(answer, Exception):
                    raise answer
                return Resp(answer)
        raise AssertionError("unexpected request %s %s" % (method, path))


def http_error(url, code, body):
    return HTTPError(url, code, "err", {}, io.BytesIO(json.dumps(body).encode()))


BASE = "http://gw:8083"


def happy_routes():
    return [
        ("GET", "/api_versions", {"versions": ["V1", "V2", "V3", "V4"]}),
        ("GET", "/v3/info", {"productName": "Apache Flink", "version": "2.2.1"}),
        ("POST", "/v3/sessions", {"sessionHandle": S}),
        ("POST", "/heartbeat", {}),
        ("POST", "/statements", {"operationHandle": O}),
        ("GET", "/status", [{"status": "RUNNING"}, {"status": "FINISHED"}]),
        ("GET", "/result/0", [PAGE_NOT_READY, PAGE_SELECT_1]),
        ("GET", "/result/1", PAGE_EOS),
        ("DELETE", "/close", {"status": "CLOSED"}),
        ("DELETE", "/v3/sessions/" + S, {"status": "CLOSED"}),
    ]


def client(opener, **kw):
    return sgc.SqlGatewayClient(BASE, opener=opener, sleep=lambda s: None, **kw)


def test_hue_sequence_in_order_without_row_format():
    gw = ScriptedGateway(BASE, happy_routes())
    result = client(gw).smoke(statement="SELECT 1;", session_name="probe")
    assert result["rows"] == [[1]] and result["flink_version"] == "2.2.1"
    assert result["api_versions"] == ["v1", "v2", "v3", "v4"]
    calls = [(call[0], call[1]) for call in gw.calls]
    assert calls == [
        ("GET", "/api_versions"), ("GET", "/v3/info"), ("POST", "/v3/sessions"),
        ("POST", "/v3/sessions/%s/heartbeat" % S), ("POST", "/v3/sessions/%s/statements" % S),
        ("GET", "/v3/sessions/%s/operations/%s/status" % (S, O)),
        ("GET", "/v3/sessions/%s/operations/%s/status" % (S, O)),
        ("GET", "/v3/sessions/%s/operations/%s/result/0" % (S, O)),
        ("GET", "/v3/sessions/%s/operations/%s/result/0" % (S, O)),
        ("GET", "/v3/sessions/%s/operations/%s/result/1" % (S, O)),
        ("DELETE", "/v3/sessions/%s/operations/%s/close" % (S, O)),
        ("DELETE", "/v3/sessions/%s" % S),
    ]
    assert not any("rowFormat" in path for dummy, path in calls)
    assert gw.calls[2][2] == {"sessionName": "probe"}
    assert gw.calls[4][2] == {"statement": "SELECT 1"}
    names = [s["name"] for s in result["steps"]]
    assert names == ["api_versions", "info", "open_session", "heartbeat", "execute", "poll_status",
                     "fetch_results", "close_operation", "close_session"]


def test_statement_error_closes_operation_and_session():
    routes = happy_routes()
    routes[5] = ("GET", "/status", {"status": "ERROR"})
    routes[6] = ("GET", "/result/0", http_error(BASE, 500, {"errors": VALIDATION_ERRORS}))
    gw = ScriptedGateway(BASE, routes)
    with pytest.raises(sgc.StatementError) as err:
        client(gw).smoke(statement="SELECT * FROM no_such_table")
    assert "SqlValidatorException: Object 'no_such_table' not found" in err.value.msg
    assert gw.calls[-2][:2] == ("DELETE", "/v3/sessions/%s/operations/%s/close" % (S, O))
    assert gw.calls[-1][:2] == ("DELETE", "/v3/sessions/%s" % S)


def test_api_version_missing_opens_nothing():
    gw = ScriptedGateway(BASE, [("GET", "/api_versions", {"versions": ["V1", "V2"]})])
    with pytest.raises(sgc.ApiVersionMissing) as err:
        client(gw).smoke()
    assert "Hue needs v3; this gateway serves v1, v2: Flink older than 1.20" in err.value.msg
    assert len(gw.calls) == 1


def test_unreachable_names_the_address():
    gw = ScriptedGateway(BASE, [("GET", "/api_versions", URLError(ConnectionRefusedError(111, "refused")))])
    with pytest.raises(sgc.GatewayUnreachable) as err:
        client(gw).smoke()
    assert "http://gw:8083" in err.value.msg


def test_timeout_while_running_still_closes():
    clock = iter(range(0, 10000)).__next__  # every clock read advances one second
    routes = happy_routes()
    routes[5] = ("GET", "/status", {"status": "RUNNING"})
    gw = ScriptedGateway(BASE, routes)
    c = sgc.SqlGatewayClient(BASE, opener=gw, sleep=lambda s: None, clock=clock, timeout=20)
    with pytest.raises(sgc.GatewayTimeout):
        c.smoke()
    assert gw.calls[-2][0] == "DELETE" and gw.calls[-2][1].endswith("/close")
    assert gw.calls[-1][:2] == ("DELETE", "/v3/sessions/%s" % S)


def test_session_close_failure_after_success_is_a_failure():
    routes = happy_routes()
    routes[-1] = ("DELETE", "/v3/sessions/" + S, http_error(BASE, 500, {"errors": ["boom"]}))
    with pytest.raises(sgc.CleanupError, match="could not be closed"):
        client(ScriptedGateway(BASE, routes)).smoke()


def test_job_check_waits_for_finished():
    job = "6342c2612e6ba3225ec5403af863214b"
    submitted = {"resultType": "PAYLOAD", "jobID": job, "results": {
        "columns": [{"name": "job id", "logicalType": {"type": "VARCHAR"}}],
        "data": [{"kind": "INSERT", "fields": [job]}]}, "nextResultUri": "/v3/x/result/1"}
    show_cols = [{"name": n, "logicalType": {"type": "VARCHAR"}} for n in
                 ("job id", "job name", "status", "start time")]

    def jobs(status):
        return {"resultType": "PAYLOAD", "results": {"columns": show_cols, "data": [
            {"kind": "INSERT", "fields": [job, "insert-into", status, "t"]}]},
            "nextResultUri": "/v3/x/result/1"}

    ops = iter(["op-main", "op-src", "op-sink", "op-insert", "op-jobs1", "op-jobs2"])
    pages = {"op-main": PAGE_SELECT_1, "op-insert": submitted, "op-jobs1": jobs("RUNNING"),
             "op-jobs2": jobs("FINISHED")}
    ok = {"resultType": "PAYLOAD", "results": {"columns": [], "data": [{"fields": ["OK"]}]},
          "nextResultUri": "/v3/x/result/1"}

    def opener(method, url, data, headers, timeout):
        path = url[len(BASE):]
        if path == "/api_versions":
            return Resp({"versions": ["V3"]})
        if path.endswith("/info"):
            return Resp({"version": "2.2.1"})
        if path == "/v3/sessions":
            return Resp({"sessionHandle": S})
        if path.endswith("/statements"):
            return Resp({"operationHandle": next(ops)})
        if path.endswith("/status"):
            return Resp({"status": "FINISHED"})
        if "/result/" in path:
            op = path.split("/operations/")[1].split("/")[0]
            return Resp(PAGE_EOS if path.endswith("/result/1") else pages.get(op, ok))
        return Resp({})

    result = client(opener).smoke(job_check=True)
    assert result["job"]["id"] == job and result["job"]["status"] == "FINISHED"
    assert [s["name"] for s in result["steps"]][-5:] == [
        "job_create_source", "job_create_sink", "job_submit", "job_wait", "close_session"]


def test_proxy_403_explains_rbac():
    base = "https://k8s:6443/api/v1/namespaces/ns/services/gw:8083/proxy"
    status = {"kind": "Status", "message": 'services "gw" is forbidden: User "bob" cannot get '
              'resource "services/proxy"', "code": 403}

    def opener(method, url, data, headers, timeout):
        raise http_error(url, 403, status)

    c = sgc.SqlGatewayClient(base, opener=opener, transport={"headers": {"Authorization": "Bearer t"}},
                             service_proxy=True)
    with pytest.raises(sgc.GatewayHttpError, match="services/proxy"):
        c.smoke()
