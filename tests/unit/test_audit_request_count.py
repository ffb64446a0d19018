"""How benchmarks/noop_rerun_ratio.py counts a run's API requests from the audit log
(tests/fixtures/studio.py StudioCluster.audit_mark/requests_since), on a synthetic log: the control
plane's own traffic and the operator stand-in's are left out, a mark that falls inside an event
skips that event, and an event still being written is left to the next count."""
import json

from tests.fixtures.studio import StudioCluster


def _event(agent):
    return json.dumps({"kind": "Event", "stage": "ResponseComplete", "verb": "get", "userAgent": agent}) + "\n"


def test_counts_only_the_clients_a_run_starts(tmp_path):
    cluster = StudioCluster(tmp_path)
    cluster.cluster_dir.mkdir(parents=True)
    log = cluster.cluster_dir / "audit.log"
    assert cluster.audit_mark() == 0  # no log yet

    log.write_text(_event("kubectl/v1.34.1 (linux/amd64) kubernetes/abc") + _event("kwok/v0.7.0"))
    half_written = _event("OpenAPI-Generator/34.1.0/python")
    with open(log, "a") as out:
        out.write(half_written[:20])
    mark = cluster.audit_mark()
    with open(log, "a") as out:
        out.write(half_written[20:])
        for agent in ("OpenAPI-Generator/34.1.0/python", "OpenAPI-Generator/34.1.0/python", "Helm/3.19.0",
                      "kube-controller-manager/v1.34.1 (linux/amd64) kubernetes/abc/system:serviceaccount:x",
                      "kube-scheduler/v1.34.1", "kube-apiserver/v1.34.1", "flinksql-operator-standin",
                      "kubectl/v1.34.1", ""):
            out.write(_event(agent))
        out.write(_event("Helm/3.19.0")[:15])  # still being written

    assert cluster.requests_since(mark) == {"OpenAPI-Generator": 2, "Helm": 1, "kubectl": 1, "(none)": 1}
    assert cluster.requests_since(0) == {"OpenAPI-Generator": 3, "Helm": 1, "kubectl": 2, "(none)": 1}
