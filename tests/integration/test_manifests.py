"""Every manifest the studio renders validates: Kubernetes kinds with kubernetes-validate --strict
for the pinned Kubernetes minor, FlinkDeployments against the operator's real CRD schema."""
import subprocess
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml

from tests.versions import REPO_ROOT, VERSIONS

KUBERNETES_MINOR = ".".join(VERSIONS["KUBERNETES_VERSION"].lstrip("v").split(".")[:2]) + ".0"


def _crd_schema():
    """The CRD hack/fetch-crds.sh installs for the tests (the release artifact), else the reference copy."""
    out = subprocess.run(["bash", str(REPO_ROOT / "hack/fetch-crds.sh")], capture_output=True, text=True,
                         check=True)
    crd = yaml.safe_load((Path(out.stdout.strip()) / "flinkdeployments.flink.apache.org-v1.yml").read_text())
    [version] = [v for v in crd["spec"]["versions"] if v["name"] == "v1beta1"]
    return version["schema"]["openAPIV3Schema"]


def _body(obj):
    """apiVersion, kind and metadata are implicit in a CRD schema; the API server checks them itself."""
    return {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata")}


def _strict(schema):
    """Structural-schema semantics: unknown fields are errors unless x-kubernetes-preserve-unknown-fields."""
    if isinstance(schema, dict):
        schema = {k: _strict(v) for k, v in schema.items()}
        if schema.get("type") == "object" and "properties" in schema and "additionalProperties" not in schema \
                and not schema.get("x-kubernetes-preserve-unknown-fields"):
            schema["additionalProperties"] = False
        return schema
    if isinstance(schema, list):
        return [_strict(v) for v in schema]
    return schema


def test_three_tenants_render_every_component(rendered_three_tenants):
    _, objects = rendered_three_tenants
    kinds = {(o["kind"], o["metadata"].get("namespace")) for o in objects.values()}
    for namespace in ("flink-studio-analytics", "team-fraud", "flink-studio-marketing"):
        for kind in ("FlinkDeployment", "Deployment", "Service", "ConfigMap", "NetworkPolicy", "ResourceQuota",
                     "LimitRange"):
            assert (kind, namespace) in kinds, "%s missing in %s" % (kind, namespace)
    assert ("Deployment", "flink-studio") in kinds  # Hue


def test_kubernetes_objects_validate_strictly(rendered_three_tenants):
    _, objects = rendered_three_tenants
    problems = []
    checked = 0
    for name, obj in objects.items():
        if "." in obj["apiVersion"].split("/")[0] and not obj["apiVersion"].startswith(
                ("apps/", "networking.k8s.io/", "policy/", "batch/", "rbac.authorization.k8s.io/",
                 "apiextensions.k8s.io/")):
            continue  # custom resources: FlinkDeployment below, cert-manager's Certificate has no schema here
        try:
            kubernetes_validate.validate(obj, KUBERNETES_MINOR, strict=True)
            checked += 1
        except kubernetes_validate.ValidationError as exc:
            problems.append("%s: %s" % (name, exc.message))
    assert not problems, "\n".join(problems)
    assert checked >= 30


def test_flinkdeployments_validate_against_the_operator_crd(rendered_three_tenants):
    _, objects = rendered_three_tenants
    schema = _strict(_crd_schema())
    deployments = {n: o for n, o in objects.items() if o["kind"] == "FlinkDeployment"}
    assert len(deployments) == 3
    for obj in deployments.values():
        jsonschema.validate(_body(obj), schema)


def test_the_crd_schema_check_can_fail(rendered_three_tenants):
    """The strict CRD check above rejects what the API server would: an unknown field and a bad enum."""
    _, objects = rendered_three_tenants
    schema = _strict(_crd_schema())
    obj = next(o for o in objects.values() if o["kind"] == "FlinkDeployment")
    bad_field = yaml.safe_load(yaml.safe_dump(obj))
    bad_field["spec"]["jobManager"]["resources"] = {"requests": {"cpu": 1}}  # main-branch form, not in 1.15.0
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(_body(bad_field), schema)
    bad_version = yaml.safe_load(yaml.safe_dump(obj))
    bad_version["spec"]["flinkVersion"] = "v9_9"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(_body(bad_version), schema)
