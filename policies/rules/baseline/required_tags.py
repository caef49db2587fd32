"""Every taggable Azure resource carries the region's required tags.

Tags are how cost, ownership and residency audits find a resource; `data-residency` must equal the
profile's value. Taggable means an ARM tracked resource: any Azure resource with a location.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from policies.facts.azure import is_located
from policies.facts.props import get, show
from policies.model import ResourceRule, ResourceView, RuleContext


def expected_tags(ctx: RuleContext) -> str:
    exact = [f"{key}={value!r}" for key, value in sorted(ctx.required_tags.items())]
    present = [f"{key}=<any>" for key in sorted(ctx.required_tag_keys - ctx.required_tags.keys())]
    return ", ".join(exact + present)


def validate(view: ResourceView, ctx: RuleContext) -> Iterator[str]:
    if not is_located(view):
        return
    tags = get(view.props, "tags", {})
    if not isinstance(tags, Mapping):
        tags = {}
    problems = [
        f"'{key}' is {show(tags.get(key))}"
        for key, value in sorted(ctx.required_tags.items())
        if tags.get(key) != value
    ]
    problems += [
        f"'{key}' is not set" for key in sorted(ctx.required_tag_keys - ctx.required_tags.keys()) if not tags.get(key)
    ]
    if problems:
        yield f"tags {', '.join(problems)} (allowed: {expected_tags(ctx)})"


RULE = ResourceRule(
    name="baseline-required-tags",
    description="Taggable Azure resources carry the region's required tags (e.g. data-residency).",
    remediation="Pass the profile's tags to every resource; RegionalPlatform merges them into each child's tags.",
    resource_types=frozenset(),
    validate=validate,
    relaxable=True,
)
