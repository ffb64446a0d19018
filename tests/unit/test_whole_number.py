"""The flinksql.studio.whole_number test (plugins/test/whole_number.py): numbers from YAML and
from `-e key=value` / AWX surveys (digit strings) pass; booleans and anything else do not."""
import pytest

from ansible_collections.flinksql.studio.plugins.test.whole_number import TestModule as WholeNumberPlugin

whole_number = WholeNumberPlugin().tests()["whole_number"]


@pytest.mark.parametrize("value", [0, 2, 65535, "0", "2", "5433"])
def test_whole_numbers_pass(value):
    assert whole_number(value) is True


@pytest.mark.parametrize("value", [True, False, -1, 2.0, "", "two", "-1", "2.5", " 2", "2\n", None, [2]])
def test_anything_else_fails(value):
    assert whole_number(value) is False
