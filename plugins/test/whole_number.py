# -*- coding: utf-8 -*-
# Copyright: Flink SQL Studio contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: whole_number
short_description: Is the value a whole number, given as an integer or as a string of digits
version_added: 0.1.0
description:
  - True for an integer that is not a boolean, and for a string of decimal digits such as C("2"),
    which is how a number arrives from C(-e key=value) extra vars and AWX surveys.
  - False for booleans, floats, negative numbers, empty strings and anything else; compare the
    value with C(| int) for ranges.
options:
  _input:
    description: The value to test.
    type: raw
    required: true
author:
  - Flink SQL Studio maintainers (@flinksql-studio)
"""

EXAMPLES = r"""
- name: Accept hue_replicas from a survey as well as from YAML
  ansible.builtin.assert:
    that: hue_replicas is flinksql.studio.whole_number and hue_replicas | int >= 1
"""

RETURN = r"""
_value:
  description: Whether the value is a whole number.
  type: bool
"""

import re

_DIGITS = re.compile(r"[0-9]+")


def whole_number(value):
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return value >= 0
    return isinstance(value, str) and bool(_DIGITS.fullmatch(value))


class TestModule(object):
    def tests(self):
        return {"whole_number": whole_number}
