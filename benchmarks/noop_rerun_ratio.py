#!/usr/bin/env python3
"""noop_rerun_ratio: wall time of a second, no-change site.yml run divided by the wall time of
`kubectl apply --server-side` of the same rendered objects. Target: at most 3.0.

Both on the local control plane, in the same run: the benchmark starts a private one
(tests/fixtures/studio.py: own CLUSTER_DIR and ports, operator stand-in, stand-in chart), so that
other sessions' traffic neither slows it nor shows in its API request counts.

1. first converge: site.yml from an empty cluster (printed, not part of the ratio);
2. render: the same site.yml with `-e studio_render_only=true -e studio_render_dir=<dir>` writes
   every object the roles apply, one file each (the operator's Helm release is not rendered: it is
   not an object the roles apply, and `kubectl apply` has no counterpart for it);
3. five rounds, alternating: site.yml (nothing to change) and
   `kubectl apply --server-side --force-conflicts --field-manager=flinksql-studio -R -f <dir>`;
   median of each, ratio = median(site.yml) / median(kubectl);
4. API requests per run, exactly: the private control plane writes an audit log
   (CLUSTER_AUDIT_LOG=1, metadata only), and each run counts the requests that completed between
   its start and end whose user agent is not one of the control plane's own components or the
   operator stand-in (tests/fixtures/studio.py BACKGROUND_USER_AGENTS), by client;
5. two floors, in the same rounds: benchmarks/playbooks/floor_one_k8s_task.yml (ansible-playbook with
   a single kubernetes.core task: each one is a new Python process that imports the kubernetes
   client, about a second here, and site.yml's no-change run needs about 25 of them for its applies
   and readiness reads), and `site.yml --tags preflight-only` (only the input checks, which make no
   API call). Both are printed as multiples of the kubectl apply: they show how much of the ratio
   is fixed cost that no change to the roles' API traffic can remove.

The smoke step is off (sql_gateway_smoke=false): the gateway pods are simulated and answer
nothing; with a real gateway it adds the duration of Hue's REST sequence per tenant. Everything
else runs as a user runs it, waits included.

Usage: .venv/bin/python benchmarks/noop_rerun_ratio.py [--rounds 5] [--tenants 2] [--keep]
"""
import argparse
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from tests.fixtures.studio import BIN, StudioCluster, run_env, tenant  # noqa: E402

TARGET = 3.0


def timed_requests(cluster, action):
    """Run action(); return its result, its wall time and the API requests it sent, by client."""
    mark = cluster.audit_mark()
    started = time.monotonic()
    result = action()
    seconds = time.monotonic() - started
    return result, seconds, cluster.requests_since(mark)


def describe_requests(counts):
    return f"{sum(counts.values())} API requests (" + ", ".join(
        f"{client} {n}" for client, n in sorted(counts.items(), key=lambda item: -item[1])) + ")"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--tenants", type=int, default=2)
    parser.add_argument("--keep", action="store_true", help="leave the private cluster running")
    args = parser.parse_args()
    # SIGTERM (make bench interrupted, a CI timeout) still stops the private cluster below.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    # tenant(): HA on an object-store dir instead of a volume (see tests/fixtures/studio.py: the
    # operator stand-in drops the securityContext when jobManager.podTemplate is set).
    tenants = [tenant(f"t{i}") for i in range(1, args.tenants + 1)]
    extra = {"studio_tenants": tenants}
    work = Path(tempfile.mkdtemp(prefix="bench-noop-"))
    cluster = StudioCluster(work, audit_log=True)
    try:
        print(f"starting a private local control plane in {cluster.cluster_dir} ...", flush=True)
        cluster.up()
        print(f"control plane, stand-in and chart ready in {cluster.up_seconds:.1f} s", flush=True)

        first, first_s, first_req = timed_requests(cluster, lambda: cluster.playbook("site.yml", extra_vars=extra))
        if first.returncode != 0:
            sys.exit("first converge failed:\n" + first.describe())
        print(f"first converge: {first_s:.1f} s, {describe_requests(first_req)} "
              f"({len(tenants)} tenants, Hue on)", flush=True)

        render_dir = work / "render"
        render = cluster.playbook("site.yml", extra_vars={**extra, "studio_render_only": True,
                                                          "studio_render_dir": str(render_dir)})
        if render.returncode != 0:
            sys.exit("render failed:\n" + render.describe())
        files = sorted(render_dir.rglob("*.yaml"))
        print(f"rendered {len(files)} objects into {render_dir}", flush=True)
        kubectl_cmd = [str(BIN / "kubectl"), "--kubeconfig", cluster.kubeconfig, "apply", "--server-side",
                       "--force-conflicts", "--field-manager=flinksql-studio", "-R", "-f", str(render_dir)]

        def kubectl_apply():
            proc = subprocess.run(kubectl_cmd, capture_output=True, text=True, env=run_env(), check=False)
            if proc.returncode != 0:
                sys.exit("kubectl apply failed:\n" + proc.stderr[-3000:])
            return proc

        floor_playbook = str(REPO_ROOT / "benchmarks" / "playbooks" / "floor_one_k8s_task.yml")
        site_s, site_req, kube_s, kube_req, floor_s, preflight_s = [], [], [], [], [], []
        for round_no in range(1, args.rounds + 1):
            run, seconds, req = timed_requests(cluster, lambda: cluster.playbook("site.yml", extra_vars=extra))
            if run.returncode != 0:
                sys.exit(f"no-change run {round_no} failed:\n" + run.describe())
            changed = run.recap().get("changed", -1)
            site_s.append(seconds)
            site_req.append(sum(req.values()))
            _, kseconds, kreq = timed_requests(cluster, kubectl_apply)
            kube_s.append(kseconds)
            kube_req.append(sum(kreq.values()))
            floor = cluster.playbook(floor_playbook)
            if floor.returncode != 0:
                sys.exit("the one-task floor playbook failed:\n" + floor.describe())
            floor_s.append(floor.seconds)
            preflight = cluster.playbook("site.yml", "--tags", "preflight-only", extra_vars=extra)
            if preflight.returncode != 0:
                sys.exit("site.yml --tags preflight-only failed:\n" + preflight.describe())
            preflight_s.append(preflight.seconds)
            print(f"round {round_no}: site.yml {seconds:.2f} s (changed={changed}, {describe_requests(req)}), "
                  f"kubectl apply {kseconds:.2f} s ({describe_requests(kreq)}), "
                  f"one kubernetes.core task {floor.seconds:.2f} s, preflight only {preflight.seconds:.2f} s",
                  flush=True)

        site_median, kube_median = statistics.median(site_s), statistics.median(kube_s)
        ratio = site_median / kube_median
        print(f"median no-change site.yml: {site_median:.2f} s, {statistics.median(site_req):.0f} API requests/run")
        print(f"median kubectl apply --server-side ({len(files)} objects): {kube_median:.2f} s, "
              f"{statistics.median(kube_req):.0f} API requests/run")
        floor_median = statistics.median(floor_s)
        print(f"floor: ansible-playbook with one kubernetes.core task: {floor_median:.2f} s "
              f"= {floor_median / kube_median:.2f} x kubectl apply")
        preflight_median = statistics.median(preflight_s)
        print(f"floor: site.yml --tags preflight-only (input checks, no API call): {preflight_median:.2f} s "
              f"= {preflight_median / kube_median:.2f} x kubectl apply")
        print(f"first converge: {first_s:.1f} s, {sum(first_req.values())} API requests")
        print(f"BENCH noop_rerun_ratio value={ratio:.2f} target<={TARGET}")
    finally:
        if args.keep:
            print(f"kept: CLUSTER_DIR={cluster.cluster_dir}", file=sys.stderr)
        else:
            cluster.down()
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
