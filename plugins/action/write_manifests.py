# -*- coding: utf-8 -*-
# Copyright: Flink SQL Studio contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin behind flinksql.studio.write_manifests: runs on the controller only."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re

import yaml
from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.text.converters import to_native
from ansible.plugins.action import ActionBase

_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _plain(value):
    """Ansible's tagged/lazy containers as plain Python, for yaml.safe_dump."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    return str(value)


def manifest_filename(obj):
    meta = obj.get("metadata") or {}
    parts = (meta.get("namespace") or "cluster", str(obj.get("kind", "object")).lower(), meta.get("name", "unnamed"))
    return "--".join(_SAFE.sub("_", str(p)) for p in parts) + ".yaml"


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("manifests", "dest"))

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        manifests = self._task.args.get("manifests")
        dest = self._task.args.get("dest")
        if not isinstance(manifests, list) or not dest:
            raise AnsibleActionFail("write_manifests needs 'manifests' (a list of objects) and 'dest' (a directory)")
        written = []
        try:
            os.makedirs(dest, exist_ok=True)
            for obj in manifests:
                path = os.path.join(dest, manifest_filename(obj))
                text = yaml.safe_dump(_plain(obj), default_flow_style=False, sort_keys=True)
                old = None
                if os.path.exists(path):
                    with open(path) as handle:
                        old = handle.read()
                if old != text:
                    with open(path, "w") as handle:
                        handle.write(text)
                    written.append(path)
        except (OSError, yaml.YAMLError) as exc:
            raise AnsibleActionFail("cannot write manifests to %s: %s" % (dest, to_native(exc)))
        result.update(changed=bool(written), written=written, dest=dest)
        return result
