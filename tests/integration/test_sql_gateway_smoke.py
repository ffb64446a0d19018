"""sql_gateway_smoke against the real Flink SQL Gateway (tests/fixtures/gateway.py).

The module runs for real: the cases are tasks of a generated playbook run by
``.venv/bin/ansible-playbook`` with this repository's ansible.cfg, so the module's own entry path
(AnsiballZ, argument spec, kubernetes.core's AnsibleK8SModule, exit/fail_json) is what is tested.
Session leaks are checked through the gateway itself: ``GET /v3/sessions/<handle>`` on the handle
the module reports must fail with "does not exist".

The service-proxy transport: a real API server cannot proxy to this gateway (it listens on
127.0.0.1 only, and the API server refuses loopback endpoints), so ``test_service_proxy_transport``
puts a small stand-in on 127.0.0.1 in front of the gateway. The stand-in checks the bearer token
and the ``/api/v1/namespaces/<ns>/services/<name>:<port>/proxy`` prefix and forwards the rest.
The stand-in also answers ``GET /version``, ``/api`` and ``/apis``, the discovery that
kubernetes.core's client setup runs once per server. It proves the module reads the kubeconfig through kubernetes.core, builds
the proxy URL, sends
the credentials and runs the whole sequence through that prefix. It does NOT prove how a real
kube-apiserver proxies (TLS, RBAC on services/proxy, its header handling), nor Kubernetes
networking (Service, endpoints, DNS, NetworkPolicy). The URL and credential construction is also
unit-tested in tests/unit/test_sql_gateway_client.py.
"""
import json
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from ansible_collections.flinksql.studio.plugins.module_utils import sql_gateway_client as sgc
from tests.fixtures.gateway import free_port, http_json

pytestmark = [pytest.mark.gateway, pytest.mark.slow]

REPO_ROOT = Path(__file__).resolve().parents[2]
PLAYBOOK = REPO_ROOT / ".venv" / "bin" / "ansible-playbook"


def run_module_cases(tmp_path, cases, check=False, env=None):
    """Runs flinksql.studio.sql_gateway_smoke once per ``cases`` item (name -> module args) in
    one ansible-playbook run (one task each, so Ansible's start-up is paid once); returns
    name -> the registered result (``failed`` set on failure)."""
    out = tmp_path / "results"
    out.mkdir(exist_ok=True)
    tasks = []
    for name, args in cases.items():
        tasks += [
            {"name": name, "flinksql.studio.sql_gateway_smoke": args, "register": "smoke",
             "ignore_errors": True},
            {"name": "save " + name,
             "ansible.builtin.copy": {"content": "{{ smoke | to_json }}",
                                      "dest": str(out / (name + ".json"))},
             "check_mode": False},
        ]
    book = tmp_path / "smoke.yml"
    book.write_text(yaml.safe_dump([{"hosts": "localhost", "gather_facts": False, "tasks": tasks}],
                                   sort_keys=False))
    cmd = [str(PLAYBOOK), "-i", "localhost,", "-c", "local",
           "-e", "ansible_python_interpreter=%s" % sys.executable, str(book)]
    if check:
        cmd.append("--check")
    run_env = {"ANSIBLE_CONFIG": str(REPO_ROOT / "ansible.cfg"), "PATH": "/usr/bin:/bin",
               "HOME": str(Path.home()), "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-tmp")}
    run_env.update(env or {})
    proc = subprocess.run(cmd, cwd=REPO_ROOT, env=run_env, capture_output=True, text=True,
                          timeout=400, check=False)
    results = {}
    for name in cases:
        path = out / (name + ".json")
        assert path.exists(), "ansible-playbook did not run %s:\n%s\n%s" % (
            name, proc.stdout[-3000:], proc.stderr[-3000:])
        results[name] = json.loads(path.read_text())
    return results


def run_module(tmp_path, args, check=False, env=None):
    return run_module_cases(tmp_path, {"smoke": args}, check=check, env=env)["smoke"]


@pytest.fixture(scope="module")
def results(flink_gateway, tmp_path_factory):
    """The module's main cases against the real gateway, in one playbook run."""
    return run_module_cases(tmp_path_factory.mktemp("smoke"), {
        "success_with_job": {"url": flink_gateway.url, "job_check": True, "timeout": 180},
        "bad_sql": {"url": flink_gateway.url, "statement": "SELECT * FROM no_such_table"},
        "down": {"url": "http://127.0.0.1:%d" % free_port()},
        "api_v9": {"url": flink_gateway.url, "api_version": "v9"},
    })


def session_exists(gateway_url, handle):
    """True while the gateway knows ``handle``; False once it says it does not exist."""
    try:
        http_json("%s/v3/sessions/%s" % (gateway_url, handle))
        return True
    except urllib.error.HTTPError as exc:
        body = exc.read().decode("utf-8", "replace")
        assert "does not exist" in body, body[:500]
        return False


def test_success_with_job_check(flink_gateway, results):
    result = results["success_with_job"]
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is False
    assert result["flink_version"] == flink_gateway.version == "2.2.1"
    assert "v3" in result["api_versions"]
    assert result["columns"] == [{"name": "EXPR$0", "type": "INTEGER"}]
    assert result["rows"] == [[1]]
    job = result["job"]
    assert job["status"] == "FINISHED"
    # the job really ran on the fixture's session cluster
    jobs = {j["jid"]: j["state"] for j in flink_gateway.jobs()}
    assert jobs.get(job["id"]) == "FINISHED"
    names = [s["name"] for s in result["steps"]]
    assert names[:8] == ["api_versions", "info", "open_session", "heartbeat", "execute",
                         "poll_status", "fetch_results", "close_operation"]
    assert names[-1] == "close_session"
    assert not session_exists(flink_gateway.url, result["session_handle"])


def test_check_mode_runs_the_check(flink_gateway, tmp_path):
    result = run_module(tmp_path, {"url": flink_gateway.url, "statement": "SELECT 'hue' AS who;"},
                        check=True)
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is False and result["rows"] == [["hue"]]
    assert not session_exists(flink_gateway.url, result["session_handle"])


def test_bad_sql_reports_the_gateway_error_and_closes(flink_gateway, results):
    result = results["bad_sql"]
    assert result["failed"] is True
    assert result["error_kind"] == "statement"
    assert "Object 'no_such_table' not found" in result["msg"]
    assert "\tat " not in result["msg"] and "Caused by" not in result["msg"]
    assert result["session_handle"]
    assert not session_exists(flink_gateway.url, result["session_handle"])
    assert result["steps"][-1]["name"] == "close_session"


def test_gateway_down_names_the_address(results):
    result = results["down"]
    assert result["failed"] is True
    assert result["error_kind"] == "unreachable"
    assert result["url"] in result["msg"] and "Connection refused" in result["msg"]
    assert result["url"].startswith("http://127.0.0.1:")


def test_api_version_not_served_lists_served(results):
    result = results["api_v9"]
    assert result["failed"] is True
    assert result["error_kind"] == "api_version"
    assert "this gateway serves v1, v2, v3, v4" in result["msg"]
    assert not result.get("session_handle")  # nothing was opened


def test_timeout_closes_operation_and_session(flink_gateway):
    """An unbounded query never reaches EOS: the client times out, closes the operation (which
    cancels the job on the session cluster) and the session."""
    c = sgc.SqlGatewayClient(flink_gateway.url, timeout=60)
    session = c.open_session("timeout-test")
    try:
        c.run_statement(session, "CREATE TEMPORARY TABLE endless (n BIGINT) WITH "
                                 "('connector' = 'datagen', 'rows-per-second' = '5')")
        c.timeout = 8.0
        c.deadline = c.clock() + c.timeout
        with pytest.raises(sgc.GatewayTimeout):
            c.run_statement(session, "SELECT n FROM endless")
    finally:
        c.close_session(session)
    assert not session_exists(flink_gateway.url, session)


# ---------------------------------------------------------------------------------------------
# service-proxy transport through a stand-in (see the module docstring for what it proves)
# ---------------------------------------------------------------------------------------------
DISCOVERY = {
    "/version": {"major": "1", "minor": "34", "gitVersion": "v1.34.4-standin"},
    "/api": {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []},
    "/apis": {"kind": "APIGroupList", "apiVersion": "v1", "groups": []},
}


class _ProxyStandIn(BaseHTTPRequestHandler):
    prefix = None
    target = None
    token = None
    seen = []

    def log_message(self, *args):
        pass

    def _handle(self):
        self.seen.append((self.command, self.path, self.headers.get("Authorization")))
        if self.headers.get("Authorization") != "Bearer " + self.token:
            return self._reply(401, {"kind": "Status", "message": "Unauthorized", "code": 401})
        if self.command == "GET" and self.path in DISCOVERY:
            # kubernetes.core's client setup runs discovery once per server (then caches it)
            return self._reply(200, DISCOVERY[self.path])
        if not self.path.startswith(self.prefix):
            return self._reply(404, {"kind": "Status", "message": "not a proxy path", "code": 404})
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        req = urllib.request.Request(self.target + self.path[len(self.prefix):], data=body,
                                     method=self.command)
        if self.headers.get("Content-Type"):
            req.add_header("Content-Type", self.headers["Content-Type"])
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return self._reply(resp.status, resp.read(), raw=True)
        except urllib.error.HTTPError as exc:
            return self._reply(exc.code, exc.read(), raw=True)

    def _reply(self, code, body, raw=False):
        data = body if raw else json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_DELETE = _handle


def test_service_proxy_transport(flink_gateway, tmp_path):
    port = free_port()
    handler = type("Handler", (_ProxyStandIn,), dict(
        prefix="/api/v1/namespaces/flink-studio-a/services/a-sql-gateway:8083/proxy",
        target=flink_gateway.url, token="s3cr3t-token", seen=[]))
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "standin",
        "clusters": [{"name": "standin", "cluster": {"server": "http://127.0.0.1:%d" % port}}],
        "users": [{"name": "u", "user": {"token": "s3cr3t-token"}}],
        "contexts": [{"name": "standin", "context": {"cluster": "standin", "user": "u"}}],
    }))
    try:
        result = run_module(tmp_path, {"service": "a-sql-gateway", "namespace": "flink-studio-a",
                                       "kubeconfig": str(kubeconfig)})
        # the same with a wrong token: the API server's refusal is explained
        kubeconfig.write_text(kubeconfig.read_text().replace("s3cr3t-token", "wrong"))
        refused = run_module(tmp_path, {"service": "a-sql-gateway", "namespace": "flink-studio-a",
                                        "kubeconfig": str(kubeconfig)})
    finally:
        server.shutdown()
        server.server_close()
    assert not result.get("failed"), result.get("msg")
    assert result["rows"] == [[1]] and result["flink_version"] == "2.2.1"
    assert "service flink-studio-a/a-sql-gateway:8083 via the API server" in result["url"]
    assert "s3cr3t-token" not in json.dumps(result)
    good = [s for s in handler.seen if s[2] == "Bearer s3cr3t-token" and s[1] not in DISCOVERY]
    assert [m for m, _, _ in good][:3] == ["GET", "GET", "POST"]
    assert all(p.startswith(handler.prefix) for _, p, _ in good)
    assert ("DELETE", handler.prefix + "/v3/sessions/" + result["session_handle"],
            "Bearer s3cr3t-token") in handler.seen
    assert not session_exists(flink_gateway.url, result["session_handle"])
    assert refused["failed"] is True and refused["error_kind"] == "http"
    assert "services/proxy" in refused["msg"]
