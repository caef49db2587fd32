"""NetworkPolicies never admit or allow traffic to another region's namespaces.

Checked per ingress `from` / egress `to` peer with a namespaceSelector:
- an empty selector selects every namespace, other regions' included: refused;
- a region label pinned to another region (matchLabels, or matchExpressions `In`) is refused, and
  so are `NotIn`, `Exists` and `DoesNotExist` on the region label, which select other regions;
- a selector on `kubernetes.io/metadata.name` naming another region's namespace is refused.
Selectors on other labels (e.g. kube-system for DNS) and podSelector-only peers (same namespace)
are allowed; ipBlock peers are out of scope.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from policies.facts.kubernetes import NETWORK_POLICY, Namespaces
from policies.facts.props import get, items, mappings, show
from policies.model import ResourceView, RuleContext, StackRule

NAME_LABEL = "kubernetes.io/metadata.name"


def _selector_problems(selector: Mapping[str, Any], ctx: RuleContext, namespaces: Namespaces) -> Iterator[str]:
    labels = selector.get("matchLabels")
    labels = labels if isinstance(labels, Mapping) else {}
    expressions = list(mappings(selector.get("matchExpressions")))
    if not labels and not expressions:
        yield "namespaceSelector {} selects every namespace, other regions' included"
        return
    pinned = labels.get(ctx.region_label)
    if pinned is not None and pinned != ctx.region:
        yield f"namespaceSelector matches {ctx.region_label}={show(pinned)}"
    name = labels.get(NAME_LABEL)
    if isinstance(name, str) and namespaces.is_foreign(name):
        yield f"namespaceSelector selects namespace '{name}' of region {namespaces.region_of(name)}"
    for expression in expressions:
        key, operator = expression.get("key"), expression.get("operator")
        values = [str(v) for v in items(expression.get("values"))]
        if key == ctx.region_label:
            if operator == "In":
                others = [v for v in values if v != ctx.region]
                if others:
                    yield f"namespaceSelector matches {ctx.region_label} In {others}"
            else:
                yield f"namespaceSelector uses {ctx.region_label} {operator} {values}, selecting other regions"
        elif key == NAME_LABEL and operator == "In":
            for value in values:
                if namespaces.is_foreign(value):
                    yield f"namespaceSelector selects namespace '{value}' of region {namespaces.region_of(value)}"


def _peers(policy: ResourceView) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for direction, peers_key in (("ingress", "from"), ("egress", "to")):
        for index, rule in enumerate(mappings(get(policy.props, f"spec.{direction}"))):
            for peer in mappings(rule.get(peers_key)):
                yield f"spec.{direction}[{index}].{peers_key}", peer


def validate(resources: Sequence[ResourceView], ctx: RuleContext) -> Iterator[tuple[str, str]]:
    namespaces = Namespaces(resources, ctx)
    for policy in (r for r in resources if r.type == NETWORK_POLICY):
        for where, peer in _peers(policy):
            selector = peer.get("namespaceSelector")
            if not isinstance(selector, Mapping):
                continue
            for problem in _selector_problems(selector, ctx, namespaces):
                yield policy.urn, (f"{where}: {problem} (allowed: namespaces labelled {ctx.region_label}={ctx.region})")


RULE = StackRule(
    name="kubernetes-network-policy-region",
    description="NetworkPolicy peers never select namespaces of another region.",
    remediation="Select peers with namespaceSelector.matchLabels {'autocloud.io/region': <region>} (or a "
    "podSelector in the same namespace).",
    validate=validate,
)
