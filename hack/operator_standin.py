#!/usr/bin/env python3
"""A STAND-IN for the Flink Kubernetes Operator's effect on the Kubernetes API.

This is not the operator and runs no Flink. The local control plane (hack/cluster-up.sh) has no
container runtime, so the real operator could never bring a session cluster to READY there.
Tests and the local demo use this small controller instead. For each FlinkDeployment it does what
the operator 1.15 does *to the API*:

* creates the JobManager Deployment ``<name>``, the JobManager RPC Service ``<name>`` (headless),
  the REST Service ``<name>-rest`` (ClusterIP, 8081) and, in standalone mode, the TaskManager
  Deployment ``<name>-taskmanager``, with the operator's names, labels and owner references;
* walks ``/status`` through the operator's sequence: CREATED -> (UPGRADING on a spec change)
  -> DEPLOYED with JobManager DEPLOYING -> DEPLOYED_NOT_READY once the JobManager Deployment is
  rolled out (kwok makes pods Ready) -> READY/STABLE, with ``observedGeneration``,
  ``reconciliationStatus``, ``clusterInfo`` and the ``Running`` condition; the lifecycle state is
  computed exactly as ``CommonStatus.getLifecycleState()`` computes it;
* reports pods that cannot be created (ReplicaSet ``FailedCreate``: ResourceQuota, PodSecurity,
  missing ServiceAccount) as JobManager ERROR with the API server's message, as the operator does;
* fails on demand through annotations (see docs/operator-standin.md):
  ``standin.flinksql.studio/fail: jobmanager-error | unsupported-version | validation-error |
  stuck`` and ``standin.flinksql.studio/ignore: "true"``;
  ``standin.flinksql.studio/ready-delay-seconds`` sets the DEPLOYED_NOT_READY -> READY delay.

Usage: operator_standin.py [--kubeconfig PATH] [--namespace NS ...] [--ready-delay SECONDS]
Runs in the foreground; SIGTERM/SIGINT stop it cleanly.
"""
import argparse
import heapq
import json
import logging
import re
import signal
import sys
import threading
import time
import uuid
from datetime import datetime, timezone

from kubernetes import client, config
from kubernetes.client.rest import ApiException
from kubernetes.watch.watch import iter_resp_lines

GROUP, VERSION, PLURAL, KIND = "flink.apache.org", "v1beta1", "flinkdeployments", "FlinkDeployment"
ANN = "standin.flinksql.studio/"
MANAGER = "flink-operator-standin"
MAIN_CONTAINER = "flink-main-container"
SUPPORTED_VERSIONS = ("v1_19", "v1_20", "v2_0", "v2_1", "v2_2")  # operator 1.15.0 (FACTS section 1)
RUNNING_CONDITION = {  # ConditionUtils.SESSION_MODE_CONDITION of the operator
    "READY": ("True", "JobManagerReady", "JobManager is running and ready to receive REST API calls"),
    "MISSING": ("False", "JobManagerDeploymentMissing", "JobManager deployment not found"),
    "DEPLOYING": ("False", "JobManagerIsDeploying", "JobManager process is starting up"),
    "DEPLOYED_NOT_READY": ("False", "DeployedNotReady",
                           "JobManager is running but not ready yet to receive REST API calls"),
    "ERROR": ("False", "Error", "JobManager deployment failed"),
}
STANDIN_USER_AGENT = "flinksql-operator-standin"
log = logging.getLogger("operator-standin")


def now():
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def lifecycle_state(status):
    """CommonStatus.getLifecycleState() of the operator, for a session cluster."""
    rec = status.get("reconciliationStatus") or {}
    if not rec.get("lastReconciledSpec"):
        return "FAILED" if status.get("error") else "CREATED"
    if rec.get("state") in ("UPGRADING", "ROLLING_BACK"):
        return rec["state"]
    if rec.get("state") == "ROLLED_BACK":
        return "ROLLED_BACK"
    if rec.get("lastStableSpec") and rec.get("lastStableSpec") == rec.get("lastReconciledSpec"):
        return "STABLE"
    return "DEPLOYED"


def error_json(exc_type, message, reason=None):
    """status.error as the operator writes it: a serialised FlinkResourceException."""
    return json.dumps({
        "type": "org.apache.flink.kubernetes.operator.exception." + exc_type,
        "message": message,
        "additionalMetadata": {"reason": reason} if reason else {},
        "throwableList": [],
    }, separators=(",", ":"))


def k8s_memory(value):
    """Flink memory ('2048m', '2g', '1024 mb'; binary units) -> Kubernetes quantity."""
    text = str(value).strip().replace(" ", "")
    if re.fullmatch(r"\d+(\.\d+)?(Ki|Mi|Gi|Ti|k|M|G|T)?", text):
        return text
    match = re.fullmatch(r"(\d+)([kmgt])?b?", text.lower())
    if not match:
        return text
    factor = {"k": 1, "m": 1024, "g": 1024 ** 2, "t": 1024 ** 3}.get(match.group(2), 0)
    return "{0}Ki".format(int(match.group(1)) * factor) if factor else match.group(1)


def merge(base, override):
    """Pod template merge as the operator does it: maps deeply, lists of named maps by name."""
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for key, value in override.items():
            merged[key] = merge(base[key], value) if key in base else value
        return merged
    if (isinstance(base, list) and isinstance(override, list)
            and all(isinstance(item, dict) and "name" in item for item in base + override)):
        merged = list(base)
        for item in override:
            names = [existing["name"] for existing in merged]
            if item["name"] in names:
                index = names.index(item["name"])
                merged[index] = merge(merged[index], item)
            else:
                merged.append(item)
        return merged
    return override


def flink_version(spec):
    tag = (spec.get("image") or "").rpartition(":")[2]
    match = re.match(r"(\d+\.\d+(\.\d+)?)", tag)
    if match:
        return match.group(1)
    return (spec.get("flinkVersion") or "v0_0").lstrip("v").replace("_", ".")


class StandIn:
    def __init__(self, api, namespaces, ready_delay, stop):
        self.api = api
        self.custom = client.CustomObjectsApi(api)
        self.core = client.CoreV1Api(api)
        self.apps = client.AppsV1Api(api)
        self.namespaces = namespaces
        self.ready_delay = ready_delay
        self.stop = stop
        self.lock = threading.Condition()
        self.due = []  # heap of (time, (namespace, name))
        self.not_ready_since = {}
        self.failing_since = {}
        self.emitted = set()

    # --- queue ------------------------------------------------------------------------------
    def enqueue(self, key, delay=0.0):
        with self.lock:
            heapq.heappush(self.due, (time.monotonic() + delay, key))
            self.lock.notify()

    def worker(self):
        while not self.stop.is_set():
            with self.lock:
                while not self.stop.is_set() and (not self.due or self.due[0][0] > time.monotonic()):
                    self.lock.wait(min(1.0, self.due[0][0] - time.monotonic()) if self.due else 1.0)
                if self.stop.is_set():
                    return
                _, key = heapq.heappop(self.due)
                self.due = [item for item in self.due if item[1] != key or item[0] > time.monotonic() + 0.05]
                heapq.heapify(self.due)
            try:
                self.reconcile(*key)
            except ApiException as exc:
                if exc.status != 404:
                    log.warning("%s/%s: API error %s %s; retrying", key[0], key[1], exc.status, exc.reason)
                    self.enqueue(key, 0.5 if exc.status == 409 else 2.0)
            except Exception:  # keep the controller alive; the error is in the log
                log.exception("%s/%s: reconcile failed; retrying in 2 s", *key)
                self.enqueue(key, 2.0)

    # --- watches ----------------------------------------------------------------------------
    def watch(self, label, list_fn, keys_of):
        rv = None
        while not self.stop.is_set():
            try:
                if rv is None:
                    data = json.loads(list_fn(_preload_content=False).data)
                    rv = data["metadata"]["resourceVersion"]
                    for item in data.get("items") or []:
                        for key in keys_of(item):
                            self.enqueue(key)
                resp = list_fn(watch=True, resource_version=rv, allow_watch_bookmarks=True,
                               timeout_seconds=60, _request_timeout=(10, 75), _preload_content=False)
                for line in iter_resp_lines(resp):
                    event = json.loads(line)
                    obj = event.get("object") or {}
                    if event.get("type") == "ERROR":
                        rv = None if obj.get("code") == 410 else rv
                        break
                    rv = obj.get("metadata", {}).get("resourceVersion", rv)
                    if event.get("type") != "BOOKMARK":
                        for key in keys_of(obj):
                            self.enqueue(key)
                resp.release_conn()
            except ApiException as exc:
                rv = None if exc.status == 410 else rv
                if exc.status != 410:
                    log.warning("watch %s: %s %s", label, exc.status, exc.reason)
                    self.stop.wait(1.0)
            except Exception as exc:  # connection dropped: reconnect from rv
                log.debug("watch %s: %s; reconnecting", label, exc)
                self.stop.wait(0.5)

    def start_watches(self):
        def fd_keys(obj):
            meta = obj.get("metadata") or {}
            return [(meta.get("namespace"), meta.get("name"))]

        def owner_keys(obj):  # Deployments/ReplicaSets we made carry app=<FlinkDeployment name>
            meta = obj.get("metadata") or {}
            app = (meta.get("labels") or {}).get("app")
            return [(meta.get("namespace"), app)] if app else []

        selector = "component in (jobmanager,taskmanager),type"
        targets = self.namespaces or [None]
        for ns in targets:
            if ns:
                fd = lambda ns=ns, **kw: self.custom.list_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, **kw)
                dep = lambda ns=ns, **kw: self.apps.list_namespaced_deployment(ns, label_selector=selector, **kw)
                rs = lambda ns=ns, **kw: self.apps.list_namespaced_replica_set(ns, label_selector=selector, **kw)
            else:
                fd = lambda **kw: self.custom.list_cluster_custom_object(GROUP, VERSION, PLURAL, **kw)
                dep = lambda **kw: self.apps.list_deployment_for_all_namespaces(label_selector=selector, **kw)
                rs = lambda **kw: self.apps.list_replica_set_for_all_namespaces(label_selector=selector, **kw)
            for label, fn, keys in (("flinkdeployments", fd, fd_keys), ("deployments", dep, owner_keys),
                                    ("replicasets", rs, owner_keys)):
                threading.Thread(target=self.watch, args=("{0} in {1}".format(label, ns or "all namespaces"), fn, keys),
                                 daemon=True).start()

    # --- API helpers ------------------------------------------------------------------------
    def event(self, fd, type_, reason, message, component="Operator", once_key=None):
        """A core/v1 Event on the FlinkDeployment, as the operator's EventRecorder makes them."""
        meta = fd["metadata"]
        if once_key is not None:
            key = (meta["uid"], reason, once_key)
            if key in self.emitted:
                return
            self.emitted.add(key)
        stamp = now()
        self.core.create_namespaced_event(meta["namespace"], {
            "metadata": {"name": "{0}.{1}".format(meta["name"], uuid.uuid4().hex[:16]),
                         "namespace": meta["namespace"]},
            "involvedObject": {"apiVersion": "{0}/{1}".format(GROUP, VERSION), "kind": KIND,
                               "name": meta["name"], "namespace": meta["namespace"], "uid": meta["uid"],
                               "resourceVersion": meta.get("resourceVersion")},
            "type": type_, "reason": reason, "message": message, "count": 1,
            "firstTimestamp": stamp, "lastTimestamp": stamp,
            "source": {"component": component}, "reportingComponent": MANAGER, "reportingInstance": MANAGER,
        })
        log.info("%s/%s: event %s %s: %s", meta["namespace"], meta["name"], type_, reason, message)

    def write_status(self, fd, **changes):
        """PUT /status with the object's resourceVersion (a conflict re-runs the reconcile)."""
        status = dict(fd.get("status") or {})
        status.update(changes)
        status = {k: v for k, v in status.items() if v is not None}
        jm = status.get("jobManagerDeploymentStatus", "MISSING")
        cond_status, reason, message = RUNNING_CONDITION[jm]
        old = [c for c in status.get("conditions") or [] if c.get("type") == "Running"]
        since = old[0].get("lastTransitionTime") if old and old[0].get("status") == cond_status else now()
        status["conditions"] = [{"type": "Running", "status": cond_status, "reason": reason,
                                 "message": message, "lastTransitionTime": since}]
        status["lifecycleState"] = lifecycle_state(status)
        body = dict(fd, status=status)
        meta = fd["metadata"]
        result = self.custom.replace_namespaced_custom_object_status(
            GROUP, VERSION, meta["namespace"], PLURAL, meta["name"], body)
        log.info("%s/%s: generation %s observed %s: lifecycle %s, JM %s, reconciliation %s%s",
                 meta["namespace"], meta["name"], meta.get("generation"), status.get("observedGeneration"),
                 status["lifecycleState"], jm, (status.get("reconciliationStatus") or {}).get("state"),
                 ", error set" if status.get("error") else "")
        return result

    def apply(self, kind, body):
        """Server-side apply (field manager flink-operator-standin, force)."""
        meta = body["metadata"]
        path = ("/api/v1/namespaces/{namespace}/services/{name}" if kind == "Service"
                else "/apis/apps/v1/namespaces/{namespace}/deployments/{name}")
        self.api.call_api(
            path, "PATCH", path_params={"namespace": meta["namespace"], "name": meta["name"]},
            query_params=[("fieldManager", MANAGER), ("force", "true")],
            header_params={"Content-Type": "application/apply-patch+yaml", "Accept": "application/json"},
            body=body, auth_settings=["BearerToken"], _preload_content=False)

    # --- what the operator creates ------------------------------------------------------------
    def manifests(self, fd):
        meta, spec = fd["metadata"], fd["spec"]
        name, ns = meta["name"], meta["namespace"]
        mode = spec.get("mode") or "native"
        kind_label = "flink-standalone-kubernetes" if mode == "standalone" else "flink-native-kubernetes"
        owner = [{"apiVersion": "{0}/{1}".format(GROUP, VERSION), "kind": KIND, "name": name,
                  "uid": meta["uid"], "controller": True, "blockOwnerDeletion": False}]

        def deployment(dep_name, component, replicas, role, ports):
            labels = {"app": name, "component": component, "type": kind_label}
            # like the operator: spec.podTemplate merged with the role's podTemplate (maps deeply,
            # lists of named items by name), then the operator's own settings on top
            template = merge(spec.get("podTemplate") or {}, role.get("podTemplate") or {})
            pod = dict(template.get("spec") or {})
            resource = role.get("resource") or {}
            amounts = {}
            if resource.get("cpu") is not None:
                amounts["cpu"] = str(resource["cpu"])
            if resource.get("memory") is not None:
                amounts["memory"] = k8s_memory(resource["memory"])
            ours = {"name": MAIN_CONTAINER, "image": spec.get("image") or "flink:latest",
                    "args": [component], "ports": ports, "resources": {"requests": amounts, "limits": amounts}}
            if spec.get("imagePullPolicy"):
                ours["imagePullPolicy"] = spec["imagePullPolicy"]
            pod["containers"] = merge(pod.get("containers") or [], [ours])
            pod["serviceAccountName"] = spec.get("serviceAccount") or pod.get("serviceAccountName") or "default"
            pod_meta = dict(template.get("metadata") or {})
            pod_meta["labels"] = dict(pod_meta.get("labels") or {}, **labels)
            return {"apiVersion": "apps/v1", "kind": "Deployment",
                    "metadata": {"name": dep_name, "namespace": ns, "labels": labels, "ownerReferences": owner},
                    "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                             "template": {"metadata": pod_meta, "spec": pod}}}

        def service(svc_name, ports, headless):
            svc = {"apiVersion": "v1", "kind": "Service",
                   "metadata": {"name": svc_name, "namespace": ns, "ownerReferences": owner,
                                "labels": {"app": name, "type": kind_label}},
                   "spec": {"type": "ClusterIP", "ports": ports,
                            "selector": {"app": name, "component": "jobmanager"}}}
            if headless:
                svc["spec"]["clusterIP"] = "None"
            return svc

        jm = spec.get("jobManager") or {}
        tm = spec.get("taskManager") or {}
        objects = [
            ("Deployment", deployment(name, "jobmanager", jm.get("replicas") or 1, jm, [
                {"name": "rest", "containerPort": 8081}, {"name": "jobmanager-rpc", "containerPort": 6123},
                {"name": "blobserver", "containerPort": 6124}])),
            ("Service", service(name, [{"name": "jobmanager-rpc", "port": 6123},
                                       {"name": "blobserver", "port": 6124}], headless=True)),
            ("Service", service(name + "-rest", [{"name": "rest", "port": 8081, "targetPort": 8081}],
                                headless=False)),
        ]
        if mode == "standalone":
            objects.append(("Deployment", deployment(name + "-taskmanager", "taskmanager",
                                                     tm.get("replicas") or 1, tm,
                                                     [{"name": "taskmanager-rpc", "containerPort": 6122}])))
        return objects

    # --- the walk ----------------------------------------------------------------------------
    def reconcile(self, ns, name):
        try:
            fd = self.custom.get_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, name)
        except ApiException as exc:
            if exc.status == 404:
                self.not_ready_since.pop((ns, name), None)
                return
            raise
        meta, spec = fd["metadata"], fd.get("spec") or {}
        annotations = meta.get("annotations") or {}
        if meta.get("deletionTimestamp") or annotations.get(ANN + "ignore", "").lower() == "true":
            return
        status = fd.get("status") or {}
        rec = status.get("reconciliationStatus") or {}
        generation = meta.get("generation")
        fail = annotations.get(ANN + "fail", "")

        if fail == "unsupported-version" or spec.get("flinkVersion") not in SUPPORTED_VERSIONS:
            # the operator only emits an Event and changes no status
            self.event(fd, "Warning", "UnsupportedFlinkVersion",
                       "Flink version {0} is not supported by this operator version".format(
                           spec.get("flinkVersion")), once_key=generation)
            return
        if fail == "validation-error":  # rejected spec: error set, observedGeneration stays
            message = "Forbidden Flink config key: kubernetes.namespace (stand-in validation-error)"
            self.event(fd, "Warning", "ValidationError", message, once_key=generation)
            if status.get("error") != error_json("ValidationException", message):
                self.write_status(fd, error=error_json("ValidationException", message),
                                  reconciliationStatus=rec or {"state": "UPGRADING"},
                                  jobManagerDeploymentStatus=status.get("jobManagerDeploymentStatus", "MISSING"))
            return

        if status.get("observedGeneration") != generation:
            if not rec.get("lastReconciledSpec") and not status.get("lifecycleState"):
                self.write_status(fd, jobManagerDeploymentStatus="MISSING", jobStatus={},
                                  reconciliationStatus={"state": "UPGRADING"}, error=None)
                self.enqueue((ns, name), 0.05)
                return
            if rec.get("lastReconciledSpec"):  # a spec change on a deployed cluster
                self.event(fd, "Normal", "SpecChanged",
                           "UPGRADE change(s) detected, starting reconciliation.", once_key=generation)
                self.write_status(fd, observedGeneration=generation, error=None, reconciliationStatus=dict(
                    rec, state="UPGRADING", lastReconciledSpec=self.spec_with_meta(fd, first=False),
                    reconciliationTimestamp=int(time.time() * 1000)))
                self.enqueue((ns, name), 0.05)
                return
            return self.deploy(fd, first=True)
        if rec.get("state") == "UPGRADING":
            return self.deploy(fd, first=False)
        return self.observe(fd, fail)

    def spec_with_meta(self, fd, first):
        return json.dumps({"spec": fd["spec"], "resource_metadata": {
            "apiVersion": "{0}/{1}".format(GROUP, VERSION), "firstDeployment": first}}, separators=(",", ":"))

    def deploy(self, fd, first):
        ns, name = fd["metadata"]["namespace"], fd["metadata"]["name"]
        for kind, body in self.manifests(fd):
            self.apply(kind, body)
        self.event(fd, "Normal", "Submit", "Starting deployment", component="JobManagerDeployment")
        rec = dict((fd.get("status") or {}).get("reconciliationStatus") or {})
        rec.update(state="DEPLOYED", lastReconciledSpec=self.spec_with_meta(fd, first),
                   reconciliationTimestamp=int(time.time() * 1000))
        tm = fd["spec"].get("taskManager") or {}
        self.write_status(fd, observedGeneration=fd["metadata"]["generation"], error=None,
                          jobManagerDeploymentStatus="DEPLOYING", reconciliationStatus=rec, clusterInfo={},
                          taskManager={"labelSelector": "component=taskmanager,app=" + name,
                                       "replicas": tm.get("replicas") or 0}, jobStatus={})
        self.not_ready_since.pop((ns, name), None)
        self.enqueue((ns, name), 0.1)

    def failed_create(self, ns, name):
        """The ReplicaSet's FailedCreate message for the JobManager pods, if any."""
        sets = self.apps.list_namespaced_replica_set(ns, label_selector="app={0},component=jobmanager".format(name))
        for rs in sorted(sets.items, key=lambda r: r.metadata.creation_timestamp, reverse=True):
            for cond in rs.status.conditions or []:
                if cond.type == "ReplicaFailure" and cond.status == "True" and cond.reason == "FailedCreate":
                    return cond.message
        return None

    def observe(self, fd, fail):
        meta, status = fd["metadata"], fd.get("status") or {}
        ns, name = meta["namespace"], meta["name"]
        jm = status.get("jobManagerDeploymentStatus")
        if jm == "ERROR":
            return  # like the operator: needs a spec change
        if fail == "jobmanager-error":
            message = ("back-off 5m0s restarting failed container={0} pod={1}-5f8c7d9b6-standin_{2}"
                       .format(MAIN_CONTAINER, name, ns))
            self.event(fd, "Warning", "CrashLoopBackOff", message, component="JobManagerDeployment")
            return self.write_status(fd, jobManagerDeploymentStatus="ERROR",
                                     error=error_json("DeploymentFailedException", message, "CrashLoopBackOff"))
        try:
            dep = self.apps.read_namespaced_deployment(name, ns)
        except ApiException as exc:
            if exc.status != 404:
                raise
            self.event(fd, "Warning", "Missing", "Missing JobManager deployment", component="JobManagerDeployment")
            return self.deploy(fd, first=False)
        quota = self.failed_create(ns, name)
        key = (ns, name)
        if not quota:
            self.failing_since.pop(key, None)
        elif time.monotonic() - self.failing_since.setdefault(key, time.monotonic()) < 1.0:
            return self.enqueue(key, 1.0)  # a fresh namespace may lack its ServiceAccount for a moment
        else:
            self.failing_since.pop(key, None)
            self.event(fd, "Warning", "FailedCreate", quota, component="JobManagerDeployment")
            return self.write_status(fd, jobManagerDeploymentStatus="ERROR",
                                     error=error_json("DeploymentFailedException", quota, "FailedCreate"))
        wanted = dep.spec.replicas or 0
        ds = dep.status
        rolled_out = ((ds.observed_generation or 0) >= dep.metadata.generation
                      and (ds.updated_replicas or 0) >= wanted and (ds.ready_replicas or 0) >= wanted
                      and (ds.available_replicas or 0) >= wanted)
        if not rolled_out:
            self.not_ready_since.pop(key, None)
            if jm != "DEPLOYING":
                self.write_status(fd, jobManagerDeploymentStatus="DEPLOYING")
            return self.enqueue(key, 2.0)
        delay = float((meta.get("annotations") or {}).get(ANN + "ready-delay-seconds", self.ready_delay))
        if jm in ("DEPLOYING", "MISSING", None):
            self.not_ready_since[key] = time.monotonic()
            self.write_status(fd, jobManagerDeploymentStatus="DEPLOYED_NOT_READY")
            return None if fail == "stuck" else self.enqueue(key, delay)
        if fail == "stuck":
            return
        left = self.not_ready_since.setdefault(key, time.monotonic()) + delay - time.monotonic()
        if jm != "READY" and left > 0:
            return self.enqueue(key, left)
        if jm != "READY":
            rec = dict(status.get("reconciliationStatus") or {})
            rec["lastStableSpec"] = rec.get("lastReconciledSpec")
            spec = fd["spec"]
            self.write_status(fd, jobManagerDeploymentStatus="READY", reconciliationStatus=rec, clusterInfo={
                "flink-version": flink_version(spec),
                "flink-revision": "unknown (operator stand-in, no Flink process)",
                "total-cpu": str(float((spec.get("jobManager") or {}).get("resource", {}).get("cpu") or 0)),
            })


def main(argv=None):
    stop = threading.Event()

    def on_signal(signum, _frame):
        log.info("signal %s: stopping", signum)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)  # first thing: a SIGTERM during start-up is clean too
    signal.signal(signal.SIGINT, on_signal)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kubeconfig", help="kubeconfig path (default: $KUBECONFIG / ~/.kube/config)")
    parser.add_argument("--namespace", action="append", default=[], help="watch only these (repeatable)")
    parser.add_argument("--ready-delay", type=float, default=0.3,
                        help="seconds between DEPLOYED_NOT_READY and READY (the REST readiness check)")
    parser.add_argument("--resync", type=float, default=15.0, help="seconds between full resyncs")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stdout)
    for noisy in ("urllib3", "kubernetes"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    api = config.new_client_from_config(config_file=args.kubeconfig)
    # Its own user agent, so that an audit log tells the stand-in's traffic from the Ansible
    # modules' (both use the kubernetes Python client): benchmarks/noop_rerun_ratio.py counts on it.
    api.user_agent = STANDIN_USER_AGENT
    standin = StandIn(api, args.namespace, args.ready_delay, stop)
    log.info("operator stand-in (NOT the Flink operator) watching %s",
             ", ".join(args.namespace) or "all namespaces")
    standin.start_watches()
    worker = threading.Thread(target=standin.worker, daemon=True)
    worker.start()
    while not stop.wait(args.resync):
        for key in list(standin.not_ready_since):
            standin.enqueue(key)
    with standin.lock:
        standin.lock.notify_all()
    worker.join(timeout=5)
    log.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
