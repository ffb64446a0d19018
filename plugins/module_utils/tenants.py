# -*- coding: utf-8 -*-
# Copyright: Flink SQL Studio contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The tenant model: validation and defaulting of ``studio_tenants``.

Pure functions, no I/O, so that every preflight rule is unit-tested
(tests/unit/test_tenants.py) and every error names the variable path, the bad
value and what is allowed. Used by the ``flinksql.studio.resolve_tenants``
filter, which the ``studio`` role runs before any role writes to the cluster.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import importlib.util
import os
import re
import sys
from decimal import Decimal


def _load_parse_quantity():
    """The kubernetes client's own quantity parser, without importing the whole client.

    ``import kubernetes.utils`` first runs ``kubernetes/__init__.py``, which imports every generated
    API model: about a second, paid again in every Ansible worker process that runs a task using the
    ``resolve_tenants`` filter. ``kubernetes/utils/quantity.py`` needs only ``decimal``, so it is
    loaded on its own from the installed package; if that fails, the normal import is used.
    """
    if "kubernetes" not in sys.modules:
        try:
            package = importlib.util.find_spec("kubernetes")  # locates, does not import
            path = os.path.join(os.path.dirname(package.origin), "utils", "quantity.py")
            spec = importlib.util.spec_from_file_location("_flinksql_studio_k8s_quantity", path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            return module.parse_quantity
        except Exception:  # pylint: disable=broad-except  # any surprise: take the normal import
            pass
    try:
        from kubernetes.utils.quantity import parse_quantity
    except ImportError:  # pragma: no cover - reported by the caller
        return None
    return parse_quantity


parse_quantity = _load_parse_quantity()

# The FlinkDeployment name doubles as the tenant name (FACTS section 3).
TENANT_NAME_RE = re.compile(r"^[a-z]([-a-z0-9]{0,43}[a-z0-9])?$")
TENANT_NAME_MAX = 45
DNS1123_LABEL_RE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
# Flink's MemorySize syntax (binary units), which the operator reads for JM/TM memory.
FLINK_MEMORY_RE = re.compile(
    r"^\s*(\d+(?:\.\d+)?)\s*(b|bytes|k|kb|kibibytes|m|mb|mebibytes|g|gb|gibibytes|t|tb|tebibytes)?\s*$",
    re.IGNORECASE,
)
_FLINK_UNITS = {
    "": 1, "b": 1, "bytes": 1,
    "k": 1 << 10, "kb": 1 << 10, "kibibytes": 1 << 10,
    "m": 1 << 20, "mb": 1 << 20, "mebibytes": 1 << 20,
    "g": 1 << 30, "gb": 1 << 30, "gibibytes": 1 << 30,
    "t": 1 << 40, "tb": 1 << 40, "tebibytes": 1 << 40,
}
FLINK_VERSION_RE = re.compile(r"^v(\d+)_(\d+)$")
# Keys the operator derives itself; setting them breaks the deployment (FACTS section 3).
FORBIDDEN_FLINK_KEYS = (
    "kubernetes.namespace",
    "kubernetes.cluster-id",
    "high-availability.cluster-id",
)
HA_URI_SCHEMES = ("s3", "s3a", "s3p", "gs", "abfs", "abfss", "wasb", "wasbs", "oss", "hdfs", "file")
ACCESS_MODES = ("ReadWriteOnce", "ReadWriteMany", "ReadWriteOncePod", "ReadOnlyMany")

TENANT_KEYS = ("name", "namespace", "quota", "limit_range", "session_cluster", "gateway", "hue")
SECTION_KEYS = {
    "session_cluster": ("image", "image_pull_policy", "flink_version", "mode", "jobmanager",
                        "taskmanager", "ha", "flink_configuration", "service_account"),
    "session_cluster.jobmanager": ("replicas", "cpu", "memory"),
    "session_cluster.taskmanager": ("replicas", "cpu", "memory", "slots"),
    "session_cluster.ha": ("enabled", "storage_dir", "volume"),
    "session_cluster.ha.volume": ("enabled", "size", "access_mode", "storage_class"),
    "gateway": ("image", "image_pull_policy", "replicas", "cpu", "memory", "cpu_limit", "memory_limit",
                "idle_timeout", "check_interval", "max_sessions", "catalog_store",
                "flink_configuration", "default_catalog", "default_database"),
    "gateway.catalog_store": ("enabled", "size", "storage_class"),
    "quota": ("enabled", "requests_cpu", "requests_memory", "limits_cpu", "limits_memory",
              "pods", "pvcs", "storage"),
    "limit_range": ("enabled", "default_cpu", "default_memory", "default_request_cpu",
                    "default_request_memory"),
    "hue": ("interpreter_name",),
}


class TenantError(ValueError):
    """All the problems found in ``studio_tenants``, one per line."""

    def __init__(self, problems):
        self.problems = list(problems)
        super(TenantError, self).__init__(
            "studio_tenants is invalid; nothing was changed:\n- " + "\n- ".join(self.problems))


def flink_memory_bytes(value):
    """Bytes of a Flink MemorySize string such as ``2048m`` or ``2g``; None if malformed."""
    match = FLINK_MEMORY_RE.match(str(value))
    if not match:
        return None
    return int(Decimal(match.group(1)) * _FLINK_UNITS[(match.group(2) or "").lower()])


def k8s_quantity(value):
    """Decimal of a Kubernetes quantity, or None if it is not one."""
    if parse_quantity is None:
        raise RuntimeError("the Python package 'kubernetes' is required (pip install -r requirements.txt)")
    if isinstance(value, bool) or value is None:
        return None
    try:
        return parse_quantity(value)
    except (ValueError, TypeError):
        return None


def format_cpu(millis):
    return "%sm" % int(millis)


def format_bytes(num):
    for unit, size in (("Gi", 1 << 30), ("Mi", 1 << 20), ("Ki", 1 << 10)):
        if num >= size and num % size == 0:
            return "%d%s" % (num // size, unit)
    if num >= 1 << 20:
        return "%.1fMi" % (num / float(1 << 20))
    return "%d" % num


def _merge(base, override):
    result = copy.deepcopy(base)
    for key, value in (override or {}).items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = _merge(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


class _Checker:
    def __init__(self):
        self.problems = []

    def fail(self, path, value, allowed):
        self.problems.append("%s: %r is not allowed; %s" % (path, value, allowed))

    def keys(self, path, section, value, allowed_keys):
        if value is None:
            return
        if not isinstance(value, dict):
            self.fail(path, value, "expected a mapping with keys %s" % ", ".join(allowed_keys))
            return
        unknown = sorted(set(value) - set(allowed_keys))
        for key in unknown:
            self.problems.append("%s.%s: unknown key %r; allowed keys: %s" % (
                path, key, key, ", ".join(allowed_keys)))

    def positive_int(self, path, value, minimum=1, maximum=None):
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum or (
                maximum is not None and value > maximum):
            bound = "an integer >= %d" % minimum
            if maximum is not None:
                bound = "an integer from %d to %d" % (minimum, maximum)
            self.fail(path, value, "expected %s" % bound)
            return False
        return True

    def cpu(self, path, value):
        qty = k8s_quantity(value)
        if qty is None or qty <= 0:
            self.fail(path, value, "expected a positive Kubernetes CPU quantity such as 500m, 1 or 2.5")
            return None
        return qty * 1000

    def k8s_memory(self, path, value):
        qty = k8s_quantity(value)
        if qty is None or qty <= 0:
            self.fail(path, value, "expected a positive Kubernetes memory quantity such as 512Mi or 2Gi")
            return None
        if qty < 1 << 20:
            self.fail(path, value, "below 1Mi; a quantity such as 2048m means 2.048 bytes in Kubernetes, "
                                   "write 2Gi or 2048Mi")
            return None
        return qty

    def flink_memory(self, path, value):
        num = flink_memory_bytes(value)
        if num is None or num < 1 << 20:
            self.fail(path, value, "expected Flink memory syntax such as 2048m or 2g (binary units: "
                                   "b, k, m, g, t); Kubernetes forms like 2Gi are not read by Flink")
            return None
        return num

    def boolean(self, path, value):
        if not isinstance(value, bool):
            self.fail(path, value, "expected true or false")


def resolve_tenants(tenants, defaults, studio_namespace, supported_flink_versions,
                    minimum_hue_flink_version=None, reserved_namespaces=()):
    """Validate ``tenants`` and return them with ``defaults`` applied and derived names added.

    Raises TenantError listing every problem, each naming its variable path.
    """
    check = _Checker()
    if not isinstance(tenants, list) or not tenants:
        raise TenantError(["studio_tenants: %r is not allowed; expected a non-empty list of tenants "
                           "such as [{name: analytics}]" % (tenants,)])
    if not isinstance(studio_namespace, str) or not DNS1123_LABEL_RE.match(studio_namespace):
        check.fail("studio_namespace", studio_namespace,
                   "expected a DNS-1123 label (lowercase letters, digits, '-', at most 63 characters)")
    resolved = []
    seen_names = {}
    seen_namespaces = {}
    for index, raw in enumerate(tenants):
        path = "studio_tenants[%d]" % index
        if not isinstance(raw, dict):
            check.fail(path, raw, "expected a mapping such as {name: analytics}")
            continue
        check.keys(path, None, raw, TENANT_KEYS)
        for section, allowed in SECTION_KEYS.items():
            parts = section.split(".")
            value = raw
            for part in parts:
                value = value.get(part) if isinstance(value, dict) else None
            check.keys("%s.%s" % (path, section), section, value, allowed)
        name = raw.get("name")
        if not isinstance(name, str) or not TENANT_NAME_RE.match(name):
            check.fail(path + ".name", name,
                       "expected a DNS-1123 name of at most %d characters that starts with a letter "
                       "(it names the tenant's FlinkDeployment)" % TENANT_NAME_MAX)
            name = None
        elif name in seen_names:
            check.fail(path + ".name", name, "tenant names must be unique; %s has it already" % seen_names[name])
        else:
            seen_names[name] = path
        tenant = _merge(defaults, {k: v for k, v in raw.items() if k in TENANT_KEYS})
        namespace = raw.get("namespace") or ("%s-%s" % (studio_namespace, name) if name else None)
        if namespace is not None:
            if not isinstance(namespace, str) or not DNS1123_LABEL_RE.match(namespace):
                check.fail(path + ".namespace", namespace,
                           "expected a DNS-1123 label of at most 63 characters (the default "
                           "<studio_namespace>-<name> may be too long: set namespace explicitly)")
            elif namespace in seen_namespaces:
                check.fail(path + ".namespace", namespace,
                           "each tenant needs its own namespace; %s uses it already" % seen_namespaces[namespace])
            elif namespace == studio_namespace or namespace in reserved_namespaces:
                check.fail(path + ".namespace", namespace,
                           "tenant namespaces must differ from the studio and operator namespaces and "
                           "from %s" % ", ".join(sorted(reserved_namespaces)))
            else:
                seen_namespaces[namespace] = path
        tenant["name"] = name
        tenant["namespace"] = namespace
        _check_session_cluster(check, path + ".session_cluster", tenant["session_cluster"],
                               supported_flink_versions, minimum_hue_flink_version)
        _check_gateway(check, path + ".gateway", tenant["gateway"])
        _check_quota(check, path, tenant)
        if name and namespace:
            _derive(tenant)
        resolved.append(tenant)
    if check.problems:
        raise TenantError(check.problems)
    for index, tenant in enumerate(resolved):
        tenant["requests"] = tenant_requests(tenant)
        _check_fits_quota(check, "studio_tenants[%d]" % index, tenant)
    if check.problems:
        raise TenantError(check.problems)
    return resolved


def _version_tuple(flink_version):
    match = FLINK_VERSION_RE.match(str(flink_version))
    return (int(match.group(1)), int(match.group(2))) if match else None


def _check_session_cluster(check, path, spec, supported, minimum_hue):
    version = spec.get("flink_version")
    if version not in supported:
        check.fail(path + ".flink_version", version,
                   "the pinned Flink operator supports %s" % ", ".join(supported))
    elif minimum_hue and _version_tuple(version) < _version_tuple(minimum_hue):
        check.fail(path + ".flink_version", version,
                   "Hue's Flink client needs REST API v3, i.e. Flink %s or newer (set "
                   "hue_enabled: false, or hue_allow_old_flink: true if you know better)" % minimum_hue)
    mode = spec.get("mode")
    if mode not in ("standalone", "native"):
        check.fail(path + ".mode", mode, "expected standalone (fixed, scalable TaskManager pool) or native")
    if not isinstance(spec.get("image"), str) or not spec.get("image"):
        check.fail(path + ".image", spec.get("image"), "expected an image reference such as flink:2.2.1-java17")
    jobmanager = spec.get("jobmanager") or {}
    taskmanager = spec.get("taskmanager") or {}
    check.positive_int(path + ".jobmanager.replicas", jobmanager.get("replicas"), 1, 3)
    check.cpu(path + ".jobmanager.cpu", jobmanager.get("cpu"))
    check.flink_memory(path + ".jobmanager.memory", jobmanager.get("memory"))
    check.positive_int(path + ".taskmanager.replicas", taskmanager.get("replicas"), 0 if mode == "native" else 1)
    check.cpu(path + ".taskmanager.cpu", taskmanager.get("cpu"))
    check.flink_memory(path + ".taskmanager.memory", taskmanager.get("memory"))
    check.positive_int(path + ".taskmanager.slots", taskmanager.get("slots"), 1, 64)
    conf = spec.get("flink_configuration") or {}
    if not isinstance(conf, dict):
        check.fail(path + ".flink_configuration", conf, "expected a mapping of Flink configuration keys")
        conf = {}
    for key in FORBIDDEN_FLINK_KEYS:
        if key in conf:
            check.fail("%s.flink_configuration[%r]" % (path, key), conf[key],
                       "the operator sets %s itself; remove it" % key)
    ha = spec.get("ha") or {}
    check.boolean(path + ".ha.enabled", ha.get("enabled"))
    volume = ha.get("volume") or {}
    if ha.get("enabled"):
        storage_dir = ha.get("storage_dir") or ""
        if volume.get("enabled"):
            if volume.get("access_mode") not in ACCESS_MODES:
                check.fail(path + ".ha.volume.access_mode", volume.get("access_mode"),
                           "expected one of %s" % ", ".join(ACCESS_MODES))
            elif jobmanager.get("replicas", 1) > 1 and volume.get("access_mode") != "ReadWriteMany":
                check.fail(path + ".ha.volume.access_mode", volume.get("access_mode"),
                           "%d JobManagers share the HA storage dir, which needs ReadWriteMany (shared) "
                           "storage or an object store URI in ha.storage_dir" % jobmanager.get("replicas"))
            if k8s_quantity(volume.get("size")) is None:
                check.fail(path + ".ha.volume.size", volume.get("size"), "expected a storage quantity such as 5Gi")
            if storage_dir:
                check.fail(path + ".ha.storage_dir", storage_dir,
                           "leave empty when ha.volume.enabled is true (the volume's mount path is used)")
        else:
            scheme = storage_dir.split("://", 1)[0] if "://" in storage_dir else ""
            if scheme not in HA_URI_SCHEMES:
                check.fail(path + ".ha.storage_dir", storage_dir,
                           "HA needs durable shared storage: a URI with scheme %s, or ha.volume.enabled: true"
                           % "/".join(HA_URI_SCHEMES))
            elif scheme == "file" and jobmanager.get("replicas", 1) > 1:
                check.fail(path + ".ha.storage_dir", storage_dir,
                           "a file:// path is local to each JobManager pod; with several JobManagers use an "
                           "object store URI or ha.volume with ReadWriteMany")
    elif isinstance(jobmanager.get("replicas"), int) and jobmanager.get("replicas") > 1:
        check.fail(path + ".jobmanager.replicas", jobmanager.get("replicas"),
                   "more than one JobManager needs ha.enabled: true (the operator rejects it otherwise)")


def _check_gateway(check, path, spec):
    if check.positive_int(path + ".replicas", spec.get("replicas"), 1, 1) is False:
        check.problems[-1] += (" (gateway sessions live in one gateway's memory; several replicas behind one "
                               "Service would lose them. Scale with more tenants instead)")
    check.cpu(path + ".cpu", spec.get("cpu"))
    check.k8s_memory(path + ".memory", spec.get("memory"))
    if spec.get("cpu_limit") not in (None, ""):
        check.cpu(path + ".cpu_limit", spec.get("cpu_limit"))
    check.k8s_memory(path + ".memory_limit", spec.get("memory_limit") or spec.get("memory"))
    check.positive_int(path + ".max_sessions", spec.get("max_sessions"), 1)
    for key in ("idle_timeout", "check_interval"):
        if not re.match(r"^\d+\s*(ms|s|min|h|d)$", str(spec.get(key))):
            check.fail("%s.%s" % (path, key), spec.get(key), "expected a Flink duration such as 10min, 30s or 1h")
    store = spec.get("catalog_store") or {}
    if store.get("enabled") and k8s_quantity(store.get("size")) is None:
        check.fail(path + ".catalog_store.size", store.get("size"), "expected a storage quantity such as 1Gi")


def _check_quota(check, path, tenant):
    quota = tenant.get("quota") or {}
    if not quota.get("enabled", True):
        return
    for key in ("requests_cpu", "limits_cpu"):
        check.cpu("%s.quota.%s" % (path, key), quota.get(key))
    for key in ("requests_memory", "limits_memory"):
        check.k8s_memory("%s.quota.%s" % (path, key), quota.get(key))
    check.positive_int(path + ".quota.pods", quota.get("pods"), 1)
    check.positive_int(path + ".quota.pvcs", quota.get("pvcs"), 0)
    if k8s_quantity(quota.get("storage")) is None:
        check.fail(path + ".quota.storage", quota.get("storage"), "expected a storage quantity such as 50Gi")


def _derive(tenant):
    name, namespace = tenant["name"], tenant["namespace"]
    gateway = tenant["gateway"]
    gateway["name"] = "%s-sql-gateway" % name
    gateway["port"] = 8083
    gateway["url"] = "http://%s.%s.svc:%d" % (gateway["name"], namespace, gateway["port"])
    session = tenant["session_cluster"]
    session["name"] = name
    session["rest_service"] = "%s-rest" % name
    session["rest_address"] = "%s-rest.%s.svc" % (name, namespace)
    # The FlinkDeployment CRD takes CPU as a number of cores.
    for component in (session["jobmanager"], session["taskmanager"]):
        cores = k8s_quantity(component.get("cpu"))
        component["cpu_cores"] = float(cores) if cores is not None else None


def tenant_requests(tenant):
    """What the tenant's own pods request: session cluster + gateway (CPU in millicores, bytes, pods)."""
    session = tenant["session_cluster"]
    jm, tm = session["jobmanager"], session["taskmanager"]
    gateway = tenant["gateway"]
    items = [
        ("JobManager", jm["replicas"], k8s_quantity(jm["cpu"]) * 1000, flink_memory_bytes(jm["memory"])),
        ("TaskManager", tm["replicas"] if session["mode"] == "standalone" else 0,
         k8s_quantity(tm["cpu"]) * 1000, flink_memory_bytes(tm["memory"])),
        ("SQL Gateway", gateway["replicas"], k8s_quantity(gateway["cpu"]) * 1000, k8s_quantity(gateway["memory"])),
    ]
    return {
        "items": [{"component": c, "replicas": r, "cpu_millis": int(cpu), "memory_bytes": int(mem)}
                  for c, r, cpu, mem in items],
        "cpu_millis": int(sum(r * cpu for dummy, r, cpu, dummy in items)),
        "memory_bytes": int(sum(r * mem for dummy, r, dummy, mem in items)),
        "pods": int(sum(r for dummy, r, dummy, dummy in items)),
    }


def _check_fits_quota(check, path, tenant):
    quota = tenant.get("quota") or {}
    if not quota.get("enabled", True):
        return
    req = tenant["requests"]
    detail = " + ".join("%s %d x (%s, %s)" % (i["component"], i["replicas"], format_cpu(i["cpu_millis"]),
                                              format_bytes(i["memory_bytes"]))
                        for i in req["items"] if i["replicas"])
    cpu_quota = k8s_quantity(quota["requests_cpu"]) * 1000
    mem_quota = k8s_quantity(quota["requests_memory"])
    if req["cpu_millis"] > cpu_quota:
        check.problems.append("%s.quota.requests_cpu: %s does not fit what the tenant's pods request: %s = %s; "
                              "raise the quota or shrink the session cluster" % (
                                  path, quota["requests_cpu"], detail, format_cpu(req["cpu_millis"])))
    if req["memory_bytes"] > mem_quota:
        check.problems.append("%s.quota.requests_memory: %s does not fit what the tenant's pods request: %s = %s; "
                              "raise the quota or shrink the session cluster" % (
                                  path, quota["requests_memory"], detail, format_bytes(req["memory_bytes"])))
    if req["pods"] > quota["pods"]:
        check.problems.append("%s.quota.pods: %d does not fit the tenant's %d pods (%s)" % (
            path, quota["pods"], req["pods"], detail))
