"""docs/awx.md stays true: its YAML parses, the survey asks for documented role variables with
values their argument specs accept, the credential injectors use only declared inputs, and the
as-code playbook says what the UI instructions say."""
import re

import pytest
import yaml

from tests.versions import REPO_ROOT

DOC = (REPO_ROOT / "docs" / "awx.md").read_text()
BLOCKS = re.findall(r"```yaml\n(.*?)```", DOC, flags=re.S)
RAW = re.compile(r"\{% raw %\}(.*?)\{% endraw %\}")


def _role_options():
    options = {}
    for path in (REPO_ROOT / "roles").glob("*/meta/argument_specs.yml"):
        spec = yaml.safe_load(path.read_text())["argument_specs"].get("main") or {}
        options.update(spec.get("options") or {})
    return options


def _block_with(key):
    for block in BLOCKS:
        data = yaml.safe_load(RAW.sub(r"\1", block))
        if isinstance(data, dict) and key in data:
            return data
        if isinstance(data, list) and data and key in data[0]:
            return data
    raise AssertionError(f"no YAML block with {key!r} in docs/awx.md")


def _setup_play():
    return _block_with("tasks")[0]


def _task(module):
    return next(t for t in _setup_play()["tasks"] if module in t)


def test_every_yaml_block_parses():
    assert len(BLOCKS) >= 4
    for block in BLOCKS:
        yaml.safe_load(RAW.sub(r"\1", block))


def test_injectors_use_declared_inputs_only():
    inputs = _block_with("fields")
    injectors = _block_with("env")
    declared = {f["id"] for f in inputs["fields"]}
    files = {name.split(".", 1)[1] for name in injectors.get("file", {})}
    for section in ("file", "env", "extra_vars"):
        for value in injectors.get(section, {}).values():
            for ref in re.findall(r"\{\{\s*([\w.]+)\s*\}\}", value):
                if ref.startswith("tower.filename."):
                    assert ref.split(".")[-1] in files, ref
                else:
                    assert ref in declared, f"injector uses {ref}, not an input"
    assert set(inputs["required"]) <= declared


def test_as_code_credential_type_matches_the_ui_instructions():
    task = _task("awx.awx.credential_type")["awx.awx.credential_type"]
    assert task["injectors"] == _block_with("env")
    assert {f["id"] for f in task["inputs"]["fields"]} == {f["id"] for f in _block_with("fields")["fields"]}


def test_job_templates_run_the_two_playbooks():
    loop = _task("awx.awx.job_template")["loop"]
    assert sorted(item["playbook"] for item in loop) == ["site.yml", "teardown.yml"]
    for item in loop:
        assert (REPO_ROOT / item["playbook"]).is_file()


def _survey_questions():
    play = _setup_play()
    choices = play["vars"]["bool_choice"]
    for item in _task("awx.awx.job_template")["loop"]:
        for question in item["survey"]["spec"]:
            if question.get("choices") == "{{ bool_choice }}":
                question = dict(question, choices=choices)
            yield item["playbook"], question


@pytest.mark.parametrize("playbook,question", list(_survey_questions()),
                         ids=lambda v: v["variable"] if isinstance(v, dict) else v)
def test_survey_variable_is_documented_and_its_answers_are_valid(playbook, question):
    options = _role_options()
    name = question["variable"]
    assert name in options, f"survey variable {name} is not a documented role variable (docs/variables.md)"
    tables = "".join(DOC.split("### Survey")[1:]).split("## 5.", maxsplit=1)[0]
    assert f"`{name}`" in tables, f"{name} is missing from the survey tables"
    kind = options[name].get("type", "str")
    answers = question.get("choices") or [question.get("default")]
    if kind == "bool":
        assert set(answers) == {"true", "false"}, f"{name}: a bool needs the answers true/false, got {answers}"
        assert question["type"] == "multiplechoice"
    else:
        assert kind in ("str", "raw"), f"{name}: a survey cannot produce type {kind}"
    assert str(question["default"]) in [str(a) for a in answers]


def test_teardown_survey_requires_confirmation_and_defaults_to_keeping_data():
    questions = {q["variable"]: q for pb, q in _survey_questions() if pb == "teardown.yml"}
    assert questions["teardown_confirm"]["default"] == "false" and questions["teardown_confirm"]["required"]
    assert questions["teardown_keep_data"]["default"] == "true"
