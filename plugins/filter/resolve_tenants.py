# -*- coding: utf-8 -*-
# Copyright: Flink SQL Studio contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: resolve_tenants
short_description: Validate the studio's tenant list and apply defaults
version_added: 0.1.0
description:
  - Validates O(_input) (the C(studio_tenants) variable) and returns each tenant with
    C(studio_tenant_defaults) merged in and derived names added (FlinkDeployment, JobManager REST
    Service, SQL Gateway Service and in-cluster URL, summed resource requests).
  - Fails with every problem at once, each naming the variable path (such as
    C(studio_tenants[1].session_cluster.jobmanager.memory)), the bad value and what is allowed.
options:
  _input:
    description: The tenant list, C(studio_tenants).
    type: list
    elements: dict
    required: true
  defaults:
    description: Per-tenant defaults, C(studio_tenant_defaults).
    type: dict
    required: true
  studio_namespace:
    description: The studio namespace; tenant namespaces default to C(<studio_namespace>-<name>).
    type: str
    required: true
  supported_flink_versions:
    description: C(flinkVersion) values the pinned operator supports.
    type: list
    elements: str
    required: true
  minimum_flink_version:
    description: Oldest C(flinkVersion) allowed (Hue needs C(v1_20)); empty for no limit.
    type: str
  reserved_namespaces:
    description: Namespaces a tenant must not use (the operator's, system namespaces).
    type: list
    elements: str
"""

EXAMPLES = r"""
- name: Resolve the tenants once, for every role
  ansible.builtin.set_fact:
    studio_resolved_tenants: >-
      {{ studio_tenants | flinksql.studio.resolve_tenants(studio_tenant_defaults, studio_namespace,
         studio_supported_flink_versions) }}
"""

RETURN = r"""
_value:
  description: The tenants with defaults applied and derived names (C(gateway.url), C(session_cluster.rest_address), C(requests)).
  type: list
  elements: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.flinksql.studio.plugins.module_utils.tenants import TenantError, resolve_tenants


def _plain(value):
    """Ansible's variables as plain dicts, lists and strs.

    Ansible hands filters its own lazy, tagged containers; the tenant model deep-copies the defaults
    once per tenant and section, and deep-copying those containers costs seconds per run where plain
    data costs milliseconds.
    """
    if isinstance(value, dict):
        return {_plain(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, str):
        return str.__str__(value)  # an exact str: the same object for a str, a copy for a subclass
    return value


def _resolve(tenants, defaults, studio_namespace, supported_flink_versions, minimum_flink_version=None,
             reserved_namespaces=()):
    tenants, defaults = _plain(tenants), _plain(defaults)
    try:
        return resolve_tenants(tenants, defaults, studio_namespace, list(supported_flink_versions),
                               minimum_flink_version or None, tuple(reserved_namespaces or ()))
    except TenantError as exc:
        raise AnsibleFilterError(str(exc))


class FilterModule(object):
    def filters(self):
        return {"resolve_tenants": _resolve}
