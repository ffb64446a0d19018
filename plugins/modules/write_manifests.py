#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Flink SQL Studio contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: write_manifests
short_description: Write rendered Kubernetes manifests to a directory on the controller, one file per object
version_added: 0.1.0
description:
  - Writes each object as C(<namespace or cluster>--<kind>--<name>.yaml) under O(dest), for review, GitOps or
    offline scanners (the roles call it when C(studio_render_dir) is set).
  - Runs on the controller as an action plugin; it talks to no cluster. Files whose content is unchanged are not
    rewritten.
  - It writes in check mode too, because the files describe what the run would apply, not cluster state.
options:
  manifests:
    description: The objects.
    type: list
    elements: dict
    required: true
  dest:
    description: Directory to write into (created if missing).
    type: path
    required: true
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: Writes the files in check mode as well, because they describe the run, not the cluster.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: posix
author:
  - Flink SQL Studio maintainers (@flinksql-studio)
"""

EXAMPLES = r"""
- name: Keep a copy of the gateway manifests
  flinksql.studio.write_manifests:
    manifests: "{{ lookup('ansible.builtin.template', 'sql-gateway.yaml.j2') | ansible.builtin.from_yaml_all | list }}"
    dest: /tmp/studio/sql-gateway
"""

RETURN = r"""
written:
  description: Paths of the files that were written (new or changed).
  returned: always
  type: list
  elements: str
dest:
  description: The directory.
  returned: always
  type: str
"""
