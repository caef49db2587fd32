"""Every namespace carries its region's label.

The label is what NetworkPolicies select on to keep regions apart on one cluster, so a namespace
without it (or with another region's) escapes those policies. A namespace whose name claims another
region (`autocloud-us` in the EU stack) is refused too: that region's stack owns that name.
"""

from __future__ import annotations

from collections.abc import Iterator

from policies.facts.kubernetes import NAMESPACE, label, named_region, object_name
from policies.facts.props import show
from policies.model import ResourceRule, ResourceView, RuleContext


def validate(view: ResourceView, ctx: RuleContext) -> Iterator[str]:
    value = label(view, ctx.region_label)
    if value != ctx.region:
        yield f"label '{ctx.region_label}' is {show(value)} (allowed: '{ctx.region}')"
    name = object_name(view)
    claimed = named_region(name, ctx.known_regions)
    if claimed is not None and claimed != ctx.region:
        yield f"metadata.name '{name}' names region {claimed} (allowed: a name of region {ctx.region})"


RULE = ResourceRule(
    name="kubernetes-namespace-region-label",
    description="Every Namespace is labelled autocloud.io/region=<this stack's region>.",
    remediation="Add metadata.labels['autocloud.io/region'] = profile.name to the Namespace.",
    resource_types=frozenset({NAMESPACE}),
    validate=validate,
)
