"""smoke_overhead_ratio: the sql_gateway_smoke module's wall time over a plain HTTP client doing
the same REST sequence against the same real Flink SQL Gateway, in the same run (median of 10).

What is compared, and why:
- "module": the module's own entry path, ``sql_gateway_smoke.main()``, run in this process with
  its arguments injected the way Ansible's unit-test helper does it
  (``ansible.module_utils.testing.patch_module_args``). That includes the argument spec built
  from kubernetes.core's AUTH_ARG_SPEC, ``AnsibleK8SModule``, the client on
  ``ansible.module_utils.urls`` and ``exit_json``'s serialisation: everything the module's
  design decides.
- "plain": ``urllib.request`` doing the same calls (api_versions, info, open session,
  heartbeat, execute ``SELECT 1``, status polls, result pages until EOS, close operation, close
  session) with the same poll back-off (0.05 s doubling to 0.5 s), in the same process.
- Runs are interleaved (module, plain, module, ...) after one warm-up of each, so both see the
  same gateway and machine load; the figure is median(module) / median(plain).
- Printed beside it as context: the same comparison for ``SHOW CATALOGS``, which the gateway
  answers without a job, so per-request overhead is not hidden behind SELECT 1's ~1 s job.
- Not in the ratio: Ansible's fixed per-task cost (fork, AnsiballZ packaging, interpreter start),
  which any module pays and this one cannot change. It is printed beside the figure as context,
  measured with ``ansible localhost -m flinksql.studio.sql_gateway_smoke`` (median of 3).

Starts its own JobManager + TaskManager + gateway on 127.0.0.1 (tests/fixtures/gateway.py) and
stops them at the end. Prints ``BENCH smoke_overhead_ratio value=<x> target<=1.3`` last.
"""
import contextlib
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / ".cache" / "collections"))

from ansible.module_utils.testing import patch_module_args  # noqa: E402

from ansible_collections.flinksql.studio.plugins.modules import sql_gateway_smoke  # noqa: E402
from tests.fixtures.gateway import start_flink_gateway, stop_flink_gateway  # noqa: E402

RUNS = int(os.environ.get("BENCH_RUNS", "10"))
TARGET = 1.3
POLL_MIN, POLL_MAX = 0.05, 0.5


def run_module(url, statement="SELECT 1", expect=([1],)):
    out = io.StringIO()
    started = time.perf_counter()
    with patch_module_args({"url": url, "statement": statement}), contextlib.redirect_stdout(out):
        try:
            sql_gateway_smoke.main()
        except SystemExit:
            pass
    seconds = time.perf_counter() - started
    result = json.loads(out.getvalue().strip().splitlines()[-1])
    if result.get("failed") or result.get("rows") != list(expect):
        raise RuntimeError("module run failed: %s" % result.get("msg", result))
    return seconds


def _call(method, url, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Accept", "application/json")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310 (127.0.0.1)
        raw = resp.read()
    return json.loads(raw) if raw else {}


def run_plain(base, statement="SELECT 1", expect=([1],)):
    """The same REST sequence with urllib.request and nothing else."""
    started = time.perf_counter()
    v = base + "/v3"
    assert "V3" in _call("GET", base + "/api_versions")["versions"]
    _call("GET", v + "/info")
    s = _call("POST", v + "/sessions", {"sessionName": "plain"})["sessionHandle"]
    rows = []
    try:
        _call("POST", "%s/sessions/%s/heartbeat" % (v, s))
        o = _call("POST", "%s/sessions/%s/statements" % (v, s), {"statement": statement})["operationHandle"]
        op = "%s/sessions/%s/operations/%s" % (v, s, o)
        try:
            delay = POLL_MIN
            while _call("GET", op + "/status")["status"] in ("INITIALIZED", "PENDING", "RUNNING"):
                time.sleep(delay)
                delay = min(delay * 2, POLL_MAX)
            token, delay = 0, POLL_MIN
            while token is not None:
                page = _call("GET", "%s/result/%s" % (op, token))
                if page["resultType"] != "NOT_READY":
                    data = (page.get("results") or {}).get("data") or []
                    rows += [d["fields"] for d in data]
                    nxt = page.get("nextResultUri")
                    token = None if page["resultType"] == "EOS" or not nxt else int(
                        nxt.split("?")[0].rsplit("/", 1)[1])
                    if token is None:
                        break
                    if data:
                        delay = POLL_MIN
                        continue
                time.sleep(delay)
                delay = min(delay * 2, POLL_MAX)
        finally:
            _call("DELETE", op + "/close")
    finally:
        _call("DELETE", "%s/sessions/%s" % (v, s))
    seconds = time.perf_counter() - started
    if rows != list(expect):
        raise RuntimeError("plain run returned %r" % rows)
    return seconds


def ansible_task_seconds(url, runs=3):
    """Context only: the module as one ad-hoc Ansible task (process and AnsiballZ included)."""
    ansible = REPO_ROOT / ".venv" / "bin" / "ansible"
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO_ROOT / "ansible.cfg"))
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        proc = subprocess.run(
            [str(ansible), "localhost", "-i", "localhost,", "-c", "local",
             "-e", "ansible_python_interpreter=%s" % sys.executable,
             "-m", "flinksql.studio.sql_gateway_smoke", "-a", "url=%s" % url],
            cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=False)
        times.append(time.perf_counter() - started)
        if proc.returncode != 0:
            return None
    return statistics.median(times)


def main():
    run_dir = Path(tempfile.mkdtemp(prefix="bench-smoke-"))
    gw = start_flink_gateway(run_dir)
    ok = False
    try:
        print("gateway %s (Flink %s) up in %.1fs; RSS MiB %s" % (
            gw.url, gw.version, gw.startup_seconds,
            {k: round(v or 0) for k, v in gw.rss_mib().items()}), flush=True)
        # warm-up: the first SELECT 1 compiles the planner path and starts a job (seconds)
        run_module(gw.url)
        run_plain(gw.url)
        module_t, plain_t = [], []
        for i in range(RUNS):
            module_t.append(run_module(gw.url))
            plain_t.append(run_plain(gw.url))
            print("run %2d  module %.3fs  plain %.3fs" % (i + 1, module_t[-1], plain_t[-1]), flush=True)
        m, p = statistics.median(module_t), statistics.median(plain_t)
        # context: a statement the gateway answers without starting a job, so that HTTP and
        # module overhead are not hidden behind the ~1 s job of SELECT 1
        nojob = ("SHOW CATALOGS", (["default_catalog"],))
        nm = statistics.median([run_module(gw.url, *nojob) for _ in range(RUNS)])
        np_ = statistics.median([run_plain(gw.url, *nojob) for _ in range(RUNS)])
        task = ansible_task_seconds(gw.url)
        print("median module %.3fs, plain urllib %.3fs (SELECT 1 over REST v3, %d runs each)"
              % (m, p, RUNS))
        print("context: SHOW CATALOGS (no job): module %.3fs, plain %.3fs, ratio %.2f"
              % (nm, np_, nm / np_))
        if task is not None:
            print("context: one ad-hoc Ansible task running the module: %.2fs (median of 3; "
                  "process start and AnsiballZ included, not part of the ratio)" % task)
        ok = True
        print("BENCH smoke_overhead_ratio value=%.3f target<=%s" % (m / p, TARGET))
    finally:
        stop_flink_gateway(gw)
        if ok:
            shutil.rmtree(run_dir, ignore_errors=True)
        else:
            print("gateway logs kept in %s" % gw.log_dir, file=sys.stderr)


if __name__ == "__main__":
    main()
