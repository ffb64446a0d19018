#!/usr/bin/env python3
"""Starts and stops what the local demo and the molecule `local` scenario run beside the control plane.

* the operator stand-in (hack/operator_standin.py): the Flink operator's effect on the API, because
  the real operator cannot bring a session cluster up on simulated pods (docs/operator-standin.md);
* a real Flink SQL Gateway with a real JobManager and TaskManager on 127.0.0.1 (tests/fixtures/gateway.py),
  because the gateway pods in the local cluster are simulated and nothing answers behind their Service.
  The studio's smoke step is pointed at it through `sql_gateway_smoke_urls`.

State (PIDs, URL) lives in $CLUSTER_DIR/local-services.json (default .cluster/) so `make cluster-down` can stop them.

Usage: hack/local_services.py start|stop|status|url
"""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
# CLUSTER_DIR selects another local cluster, as for hack/cluster-up.sh.
CLUSTER_DIR = Path(os.environ.get("CLUSTER_DIR") or REPO_ROOT / ".cluster").resolve()
STATE = CLUSTER_DIR / "local-services.json"
KUBECONFIG = CLUSTER_DIR / "kubeconfig"


def _alive(pid):
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    # A zombie or a recycled PID does not count.
    try:
        return Path("/proc/%d/stat" % pid).read_text().split()[2] != "Z"
    except OSError:
        return False


def _load():
    return json.loads(STATE.read_text()) if STATE.exists() else {}


def _save(state):
    STATE.parent.mkdir(parents=True, exist_ok=True)
    STATE.write_text(json.dumps(state, indent=2) + "\n")


def start():
    if not KUBECONFIG.exists():
        sys.exit("no local control plane: run `make cluster-up` first (%s is missing)" % KUBECONFIG)
    state = _load()
    log_dir = CLUSTER_DIR / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    # A restarted cluster has a new API server address: a stand-in watching the old one is useless.
    api_server = next((line.split()[-1] for line in KUBECONFIG.read_text().splitlines()
                       if line.strip().startswith("server:")), "")
    if state.get("standin_pid") and state.get("api_server") != api_server:
        _stop_pids([state.pop("standin_pid")])
    if not (state.get("standin_pid") and _alive(state["standin_pid"])):
        with open(log_dir / "operator-standin.log", "ab") as out:
            proc = subprocess.Popen(  # noqa: S603 - our own script
                [sys.executable, str(REPO_ROOT / "hack" / "operator_standin.py"), "--kubeconfig", str(KUBECONFIG)],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        time.sleep(1.0)
        if proc.poll() is not None:
            sys.exit("the operator stand-in exited at once; see %s" % (log_dir / "operator-standin.log"))
        state.update(standin_pid=proc.pid, api_server=api_server)
        _save(state)
    gateway_pids = state.get("gateway_pids") or []
    if not (gateway_pids and all(_alive(pid) for pid in gateway_pids)):
        _stop_pids(gateway_pids)
        from tests.fixtures.gateway import start_flink_gateway  # heavy import; only when needed

        os.environ["FLINK_PROCESSES_OUTLIVE_PARENT"] = "1"  # they serve the demo after this script exits

        run_dir = CLUSTER_DIR / "gateway"
        gateway = start_flink_gateway(run_dir)
        state.update(gateway_pids=[p.pid for p in gateway.processes.values()], gateway_url=gateway.url,
                     gateway_version=gateway.version, gateway_logs=str(gateway.log_dir))
        _save(state)
    print(json.dumps(state, indent=2))


def _stop_pids(pids):
    for pid in pids:
        if _alive(pid):
            try:
                os.killpg(pid, signal.SIGTERM)
            except OSError:
                pass
    deadline = time.monotonic() + 20
    for pid in pids:
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if _alive(pid):
            try:
                os.killpg(pid, signal.SIGKILL)
            except OSError:
                pass


def stop():
    state = _load()
    _stop_pids(([state["standin_pid"]] if state.get("standin_pid") else []) + (state.get("gateway_pids") or []))
    if STATE.exists():
        STATE.unlink()


def status():
    state = _load()
    pids = ([state["standin_pid"]] if state.get("standin_pid") else []) + (state.get("gateway_pids") or [])
    print(json.dumps(dict(state, running=bool(pids) and all(_alive(p) for p in pids)), indent=2))


def url():
    print(_load().get("gateway_url", ""))


if __name__ == "__main__":
    commands = {"start": start, "stop": stop, "status": status, "url": url}
    if len(sys.argv) != 2 or sys.argv[1] not in commands:
        sys.exit(__doc__)
    commands[sys.argv[1]]()
