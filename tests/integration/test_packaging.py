"""Packaging for the Ansible ecosystem, no cluster needed:

- `ansible-builder create` renders a complete build context for execution-environment.yml
  (hack/ee.sh), with this collection packed inside and helm built from the Go module;
- the collection's own meta/execution-environment.yml is what ansible-builder's introspection reads;
- antsibull-docs builds every module page (hack/docs.sh), and every role/filter page parses;
- antsibull-changelog accepts the fragments and changelogs/changelog.yaml (hack/changelog.sh).
"""
import os
import re
import subprocess
import tarfile

import pytest
import yaml

from tests.versions import REPO_ROOT, VERSIONS

pytestmark = pytest.mark.slow
VENV_BIN = REPO_ROOT / ".venv" / "bin"


def _env(**extra):
    return dict(os.environ, PATH=f"{VENV_BIN}:{os.environ.get('PATH', '')}", **extra)


def _run(*args, timeout=300, **env):
    return subprocess.run(list(args), cwd=REPO_ROOT, env=_env(**env), capture_output=True, text=True,
                          timeout=timeout, check=False)


@pytest.fixture(scope="module")
def ee_context(tmp_path_factory):
    context = tmp_path_factory.mktemp("ee") / "context"
    result = _run("bash", "hack/ee.sh", "create", EE_CONTEXT=str(context))
    assert result.returncode == 0, f"hack/ee.sh create failed:\n{result.stdout}\n{result.stderr}"
    return context


def _stages(containerfile):
    return re.findall(r"^FROM\s+\S+\s+AS\s+(\S+)$", containerfile, flags=re.M | re.I)


def test_ee_context_is_complete(ee_context):
    containerfile = (ee_context / "Containerfile").read_text()
    stages = _stages(containerfile)
    assert stages == ["base", "galaxy", "builder", "final"], stages
    # Every COPY --from names an earlier stage; every COPY from the context exists in it.
    for line in containerfile.splitlines():
        if m := re.match(r"COPY --from=(\S+) ", line):
            assert m.group(1) in stages[: stages.index("final") + 1], line
        elif m := re.match(r"COPY (_build/\S*) ", line):
            assert (ee_context / m.group(1)).exists(), f"{line}: not in the context"
    galaxy = yaml.safe_load((ee_context / "_build" / "requirements.yml").read_text())
    by_name = {c["name"]: c for c in galaxy["collections"]}
    assert by_name["kubernetes.core"]["version"] == "6.2.0"
    packed = next(c for c in galaxy["collections"] if c.get("type") == "file")
    assert (ee_context / "_build" / packed["name"]).is_file(), "the collection tarball is not in the context"
    assert (ee_context / "_build" / "requirements.txt").read_text() == (REPO_ROOT / "requirements.txt").read_text()


def test_ee_builds_the_pinned_helm(ee_context):
    containerfile = (ee_context / "Containerfile").read_text()
    assert f"ARG HELM_VERSION={VERSIONS['HELM_VERSION']}" in containerfile, "execution-environment.yml's HELM_VERSION != versions.env"
    builder = containerfile.split("AS builder", 1)[1].split("AS final", 1)[0]
    assert "go install" in builder and "helm.sh/helm/v3/cmd/helm@${HELM_VERSION}" in builder
    final = containerfile.split("AS final", 1)[1]
    assert final.index("/usr/local/bin/helm") < final.index("RUN rm -rf /output"), "helm must be installed before /output is purged"


def test_ee_collection_tarball_is_the_collection(ee_context):
    galaxy = yaml.safe_load((ee_context / "_build" / "requirements.yml").read_text())
    packed = next(c for c in galaxy["collections"] if c.get("type") == "file")
    with tarfile.open(ee_context / "_build" / packed["name"]) as tar:
        names = set(tar.getnames())
    for required in ("MANIFEST.json", "meta/runtime.yml", "meta/execution-environment.yml", "requirements.txt",
                     "playbooks/site.yml", "playbooks/teardown.yml", "roles/teardown/tasks/main.yml",
                     "plugins/modules/flinkdeployment_wait.py"):
        assert required in names, f"{required} missing from the collection tarball"
    leaked = sorted(n for n in names if n.split("/")[0] in {".venv", ".venv-scan", ".cache", ".cluster", ".git"})
    assert not leaked, f"local state packed into the collection: {leaked[:5]}"


def test_introspection_reads_our_requirements(tmp_path, ee_context):
    """What the builder stage will run: ansible-builder's introspection over the installed collections."""
    galaxy = yaml.safe_load((ee_context / "_build" / "requirements.yml").read_text())
    packed = next(c for c in galaxy["collections"] if c.get("type") == "file")
    install = _run("ansible-galaxy", "collection", "install", "--no-deps", "--force", "-p", str(tmp_path),
                   str(ee_context / "_build" / packed["name"]))
    assert install.returncode == 0, install.stderr
    result = _run("ansible-builder", "introspect", str(tmp_path))
    assert result.returncode == 0, result.stderr
    report = yaml.safe_load(result.stdout)
    pinned = [line for line in (REPO_ROOT / "requirements.txt").read_text().splitlines() if line and not line.startswith("#")]
    text = str(report.get("python"))
    # ansible-builder drops what ansible-core brings anyway (PyYAML, ...): its EXCLUDE_REQUIREMENTS.
    pinned = [r for r in pinned if r.split("==")[0].lower() not in {"pyyaml"}]
    assert pinned
    for requirement in pinned:
        assert requirement.split("==")[0].lower() in text.lower(), f"{requirement} not found by introspection: {report}"


@pytest.fixture(scope="module")
def docs_build(tmp_path_factory):
    dest = tmp_path_factory.mktemp("docs")
    result = _run("bash", "hack/docs.sh", timeout=600, DOCS_DIR=str(dest), DOCS_LENIENT="1")
    assert result.returncode == 0, f"hack/docs.sh failed:\n{result.stderr}"
    return dest, result.stderr


def test_module_docs_build(docs_build):
    dest, _ = docs_build
    for module in sorted((REPO_ROOT / "plugins" / "modules").glob("*.py")):
        page = dest / "collections" / "flinksql" / "studio" / f"{module.stem}_module.rst"
        assert page.is_file(), f"no docs page for module {module.stem}"
        text = page.read_text()
        assert "was malformed" not in text, f"{page.name}: antsibull-docs could not parse the module's DOCUMENTATION"
        assert "Parameters" in text and "Examples" in text, f"{page.name} lacks parameters or examples"


def test_every_plugin_and_role_doc_parses(docs_build):
    dest, log = docs_build
    broken = sorted(p.name for p in (dest / "collections" / "flinksql" / "studio").glob("*.rst")
                    if "was malformed" in p.read_text())
    assert not broken, f"antsibull-docs wrote error pages for {broken}:\n{log}"


def test_changelog_fragments_lint():
    result = _run("bash", "hack/changelog.sh", "lint")
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    assert (REPO_ROOT / "changelogs" / "changelog.yaml").is_file()
