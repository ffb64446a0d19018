"""Every role's public variables: defaults/main.yml and meta/argument_specs.yml agree 1:1, the specs
are well formed (antsibull-docs and ansible-core both read them), and docs/variables.md, generated
from the specs by hack/gen-variables-doc.py, is current."""
import importlib.util
from pathlib import Path

import pytest
import yaml

from tests.versions import REPO_ROOT

ROLES_DIR = REPO_ROOT / "roles"
ROLES = sorted(p.parent.parent.name for p in ROLES_DIR.glob("*/meta/argument_specs.yml"))
ROLES_WITH_DEFAULTS = sorted(p.parent.parent.name for p in ROLES_DIR.glob("*/defaults/main.yml"))
# Keys ansible-core's role argument spec validation and antsibull-docs' RoleSchema accept on an option.
OPTION_KEYS = {"type", "required", "default", "choices", "description", "elements", "options", "aliases",
               "version_added", "version_added_collection", "no_log", "apply_defaults", "mutually_exclusive",
               "required_together", "required_one_of", "required_if", "required_by"}
TYPES = {"str", "list", "dict", "bool", "int", "float", "path", "raw", "jsonarg", "json", "bytes", "bits"}


def _gen_module():
    spec = importlib.util.spec_from_file_location("gen_variables_doc", REPO_ROOT / "hack" / "gen-variables-doc.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _specs(role):
    return yaml.safe_load((ROLES_DIR / role / "meta" / "argument_specs.yml").read_text())["argument_specs"]


def _defaults(role):
    return yaml.safe_load((ROLES_DIR / role / "defaults" / "main.yml").read_text()) or {}


def test_every_role_with_defaults_has_argument_specs():
    assert set(ROLES_WITH_DEFAULTS) <= set(ROLES), (
        f"roles with defaults/main.yml but no meta/argument_specs.yml: {sorted(set(ROLES_WITH_DEFAULTS) - set(ROLES))}")


@pytest.mark.parametrize("role", ROLES_WITH_DEFAULTS)
def test_defaults_and_main_argument_spec_agree(role):
    defaults = {k for k in _defaults(role) if not k.startswith("_")}
    documented = set((_specs(role).get("main") or {}).get("options") or {})
    undocumented = sorted(defaults - documented)
    without_default = sorted(documented - defaults)
    assert not undocumented and not without_default, (
        f"roles/{role}: in defaults/main.yml but not in meta/argument_specs.yml main options: {undocumented}; "
        f"in the argument spec but not in defaults/main.yml: {without_default}")


@pytest.mark.parametrize("role", ROLES_WITH_DEFAULTS)
def test_public_variables_carry_the_role_prefix(role):
    prefix = "studio_" if role == "studio" else f"{role}_"
    wrong = sorted(k for k in _defaults(role) if not k.startswith(prefix) and not k.startswith("_"))
    assert not wrong, f"roles/{role}/defaults/main.yml: variables without the prefix {prefix!r}: {wrong}"


def _option_problems(options, where):
    problems = []
    for name, option in (options or {}).items():
        path = f"{where}.{name}"
        if not isinstance(option, dict):
            problems.append(f"{path}: not a mapping ({option!r})")
            continue
        unknown = sorted(set(option) - OPTION_KEYS)
        if unknown:
            problems.append(f"{path}: unknown keys {unknown} (a YAML flow mapping split a description at a comma?)")
        if option.get("type", "str") not in TYPES:
            problems.append(f"{path}: unknown type {option.get('type')!r}")
        if not option.get("description"):
            problems.append(f"{path}: no description")
        if option.get("type") == "list" and "elements" not in option:
            problems.append(f"{path}: a list without elements")
        problems += _option_problems(option.get("options"), path)
    return problems


@pytest.mark.parametrize("role", ROLES)
def test_argument_specs_are_well_formed(role):
    specs = _specs(role)
    problems = [] if "main" in specs else ["no `main` entry point"]
    for entry, spec in specs.items():
        for key in ("short_description", "description"):
            if not (spec or {}).get(key):
                problems.append(f"entry point {entry}: no {key} (antsibull-docs requires it)")
        problems += _option_problems((spec or {}).get("options"), entry)
    assert not problems, f"roles/{role}/meta/argument_specs.yml:\n  " + "\n  ".join(problems)


def test_variables_doc_is_current():
    gen = _gen_module()
    expected = gen.render(gen.load_specs(REPO_ROOT))
    current = (REPO_ROOT / "docs" / "variables.md").read_text() if (REPO_ROOT / "docs" / "variables.md").exists() else ""
    assert current == expected, "docs/variables.md is stale: run `python hack/gen-variables-doc.py` and commit it"


def test_variables_doc_lists_every_main_variable():
    text = (REPO_ROOT / "docs" / "variables.md").read_text()
    missing = [f"{role}:{name}" for role in ROLES for name in ((_specs(role).get("main") or {}).get("options") or {})
               if f"| `{name}` |" not in text]
    assert not missing, f"docs/variables.md lacks {missing}"


def test_markup_conversion():
    gen = _gen_module()
    assert gen.markup("C(a) and O(b=c), I(it), B(bold), U(http://x), L(text, http://y)") == (
        "`a` and `b=c`, *it*, **bold**, <http://x>, [text](http://y)")
    assert gen.markup("pipe | here\n  wrapped") == "pipe \\| here wrapped"
    assert gen.render_value("") == '`""`'
    assert gen.render_value({"a": "x" * 100}).startswith("(mapping")


def test_generator_lists_roles_in_site_order(tmp_path):
    for role in ("zeta", "hue", "studio"):
        (tmp_path / "roles" / role / "meta").mkdir(parents=True)
        (tmp_path / "roles" / role / "meta" / "argument_specs.yml").write_text(yaml.safe_dump({"argument_specs": {
            "main": {"short_description": "s", "description": "d",
                     "options": {f"{role}_x": {"type": "str", "default": "v", "description": "X."}}}}}))
    gen = _gen_module()
    assert list(gen.load_specs(Path(tmp_path))) == ["studio", "hue", "zeta"]
