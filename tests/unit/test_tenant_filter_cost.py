"""What keeps the tenant filter cheap in every Ansible worker (found profiling a no-change run).

Each task that uses ``flinksql.studio.resolve_tenants`` runs in a freshly forked worker, which
imports the filter anew: importing the whole kubernetes client there cost about a second per task,
and deep-copying Ansible's lazy variable containers about as much again. Timing is left to
benchmarks/noop_rerun_ratio.py; these tests pin the two properties that made the difference.
"""
import subprocess
import sys
from collections import OrderedDict
from decimal import Decimal

from ansible_collections.flinksql.studio.plugins.filter.resolve_tenants import _plain
from tests.versions import REPO_ROOT


def test_tenant_model_parses_quantities_without_importing_the_kubernetes_client():
    probe = (
        "import sys\n"
        "from ansible_collections.flinksql.studio.plugins.module_utils import tenants\n"
        "assert tenants.k8s_quantity('1536Mi') == 1536 * 2 ** 20, tenants.k8s_quantity('1536Mi')\n"
        "assert tenants.k8s_quantity('250m') * 1000 == 250\n"
        "assert tenants.k8s_quantity('lots') is None\n"
        "print(sorted(name for name in sys.modules if name == 'kubernetes' or name.startswith('kubernetes.')))\n"
    )
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=False,
                          cwd=REPO_ROOT, env={"PYTHONPATH": f"{REPO_ROOT / '.cache/collections'}:{REPO_ROOT}"})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]", f"the tenant model imported the kubernetes client: {proc.stdout}"


def test_tenant_model_uses_the_kubernetes_clients_own_parser():
    from ansible_collections.flinksql.studio.plugins.module_utils import tenants
    from kubernetes.utils.quantity import parse_quantity

    # the client's file itself, not a copy of it in this collection
    assert tenants.parse_quantity.__code__.co_filename == parse_quantity.__code__.co_filename
    for text in ("1", "0.5", "100m", "2Gi", "1e3", "1.5G"):
        assert tenants.parse_quantity(text) == parse_quantity(text)
    assert isinstance(tenants.parse_quantity("2Gi"), Decimal)


class _TaggedStr(str):
    """Stands for Ansible's tagged strings: a str subclass."""


def test_filter_input_becomes_plain_data():
    given = OrderedDict(name=_TaggedStr("t1"), sizes=(1, 2), nested={"image": _TaggedStr("flink:2.2")})
    plain = _plain([given])
    assert plain == [{"name": "t1", "sizes": [1, 2], "nested": {"image": "flink:2.2"}}]
    kinds = [value.__class__ for value in (plain[0], plain[0]["nested"], plain[0]["sizes"],
                                           plain[0]["name"], plain[0]["nested"]["image"])]
    assert kinds == [dict, dict, list, str, str]
