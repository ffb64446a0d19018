# -*- coding: utf-8 -*-
# Copyright: Flink SQL Studio contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Preflight checks of the governance role's inputs (pure functions, unit-tested).

Each function returns a list of problems; each problem names the variable, the bad value and
what is allowed, in the style of module_utils/tenants.py. An empty list means the input is fine.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import re

# Kubernetes label syntax (apimachinery validation.IsQualifiedName / IsValidLabelValue).
_NAME_PART = r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
_PREFIX = r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*"
LABEL_KEY_RE = re.compile(r"^(%s/)?%s$" % (_PREFIX, _NAME_PART))
LABEL_VALUE_RE = re.compile(r"^(%s)?$" % _NAME_PART)
POD_SECURITY_LEVELS = ("privileged", "baseline", "restricted")
POD_SECURITY_VERSION_RE = re.compile(r"^(latest|v1\.\d{1,2})$")


def governance_cidr_problems(value, name, allow_empty=True):
    """Problems of a list of CIDRs such as ``["10.0.0.10/32"]`` (IPv4 or IPv6, host bits zero)."""
    if value is None or (isinstance(value, list) and not value):
        if allow_empty:
            return []
        return ["%s: %r is not allowed; expected a non-empty list of CIDRs such as ['10.0.0.10/32']" % (name, value)]
    if not isinstance(value, list):
        return ["%s: %r is not allowed; expected a list of CIDRs such as ['10.0.0.10/32']" % (name, value)]
    problems = []
    for index, item in enumerate(value):
        path = "%s[%d]" % (name, index)
        if not isinstance(item, str) or "/" not in item:
            problems.append("%s: %r is not allowed; expected a CIDR with a prefix length, such as 10.0.0.10/32 "
                            "or fd00::1/128" % (path, item))
            continue
        try:
            network = ipaddress.ip_network(item, strict=False)
        except ValueError as exc:
            problems.append("%s: %r is not allowed; not a CIDR (%s)" % (path, item, exc))
            continue
        if str(network) != item.strip():
            problems.append("%s: %r is not allowed; host bits are set, write %s (or the address with /%d)" % (
                path, item, network, network.max_prefixlen))
        elif network.prefixlen == 0:
            problems.append("%s: %r is not allowed; a /0 admits every address, which is not the API server" % (
                path, item))
    return problems


def governance_selector_problems(value, name, allow_empty=True):
    """Problems of a label selector given as a mapping (matchLabels): keys and values as Kubernetes allows."""
    if not isinstance(value, dict):
        return ["%s: %r is not allowed; expected a mapping of label keys to values such as "
                "{kubernetes.io/metadata.name: ingress-nginx}" % (name, value)]
    if not value and not allow_empty:
        return ["%s: {} is not allowed; an empty selector selects every namespace. Name the namespace, e.g. "
                "{kubernetes.io/metadata.name: ingress-nginx}" % name]
    problems = []
    for key, label in value.items():
        if not isinstance(key, str) or len(key) > 317 or not LABEL_KEY_RE.match(key):
            problems.append("%s: label key %r is not allowed; expected [prefix/]name with name of at most 63 "
                            "characters of alphanumerics, '-', '_' or '.'" % (name, key))
        if not isinstance(label, str) or len(label) > 63 or not LABEL_VALUE_RE.match(label):
            problems.append("%s[%r]: %r is not allowed; expected a label value (a string of at most 63 "
                            "alphanumerics, '-', '_' or '.', quoted in YAML if it looks like a number or boolean)"
                            % (name, key, label))
    return problems


def governance_port_problems(value, name):
    """Problems of a list of TCP ports."""
    if not isinstance(value, list) or not value:
        return ["%s: %r is not allowed; expected a non-empty list of ports such as [443, 6443]" % (name, value)]
    return ["%s[%d]: %r is not allowed; expected a port from 1 to 65535" % (name, i, port)
            for i, port in enumerate(value)
            if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535]


def governance_pod_security_problems(level, version):
    problems = []
    if level not in POD_SECURITY_LEVELS:
        problems.append("governance_pod_security_level: %r is not allowed; expected one of %s" % (
            level, ", ".join(POD_SECURITY_LEVELS)))
    if not isinstance(version, str) or not POD_SECURITY_VERSION_RE.match(version):
        problems.append("governance_pod_security_version: %r is not allowed; expected latest or a Kubernetes "
                        "minor version such as v1.34" % (version,))
    return problems


def governance_egress_rule_problems(value, name):
    """Problems of a list of NetworkPolicyEgressRule mappings (only the shape: to/ports keys)."""
    if not isinstance(value, list):
        return ["%s: %r is not allowed; expected a list of NetworkPolicy egress rules "
                "({to: [...], ports: [...]})" % (name, value)]
    problems = []
    for index, rule in enumerate(value):
        if not isinstance(rule, dict) or not rule or set(rule) - {"to", "ports"}:
            problems.append("%s[%d]: %r is not allowed; expected a NetworkPolicy egress rule with keys to and/or "
                            "ports (an empty rule would allow all egress)" % (name, index, rule))
    return problems


class FilterModule(object):
    """Preflight checks of the governance role."""

    def filters(self):
        return {
            "governance_cidr_problems": governance_cidr_problems,
            "governance_selector_problems": governance_selector_problems,
            "governance_port_problems": governance_port_problems,
            "governance_pod_security_problems": governance_pod_security_problems,
            "governance_egress_rule_problems": governance_egress_rule_problems,
        }
