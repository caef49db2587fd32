"""Geo-redundant storage is refused when the paired region is outside the boundary.

GRS, RA-GRS, GZRS and RA-GZRS copy every write to the location's paired region (Microsoft's
published pairs, `platform_model.locations`); where that pair is outside the boundary the copy leaves
the region. An unknown pair is refused too: it cannot be verified.
"""

from __future__ import annotations

from collections.abc import Iterator

from platform_model.locations import paired_region
from policies.facts.azure import STORAGE_ACCOUNT
from policies.facts.props import get, show
from policies.model import ResourceRule, ResourceView, RuleContext


def is_geo_redundant(sku: str) -> bool:
    """Whether a storage SKU name replicates to the paired region (GRS and GZRS families)."""
    return any(kind in sku.upper() for kind in ("GRS", "GZRS"))


def validate(view: ResourceView, ctx: RuleContext) -> Iterator[str]:
    sku = get(view.props, "sku.name")
    if not isinstance(sku, str):
        yield f"sku.name is {show(sku)}, so redundancy cannot be verified (allowed: a ZRS or LRS SKU)"
        return
    if not is_geo_redundant(sku):
        return
    location = get(view.props, "location")
    pair = paired_region(location) if isinstance(location, str) else None
    if pair is None:
        yield (
            f"sku.name '{sku}' replicates to the paired region of location {show(location)}, which is "
            "unknown (allowed: a ZRS or LRS SKU)"
        )
    elif not ctx.in_boundary(pair):
        yield (
            f"sku.name '{sku}' replicates to '{pair}', the pair of '{location}', outside the {ctx.region} "
            f"boundary (allowed: ZRS/LRS, or geo-redundancy only where the pair is in {ctx.allowed()})"
        )


RULE = ResourceRule(
    name="residency-storage-redundancy",
    description="Storage redundancy never replicates to a paired region outside the region's boundary.",
    remediation="Use Standard_ZRS (or Standard_LRS where the location has no zones); "
    "platform_model.locations.storage_sku(location) picks it.",
    resource_types=frozenset({STORAGE_ACCOUNT}),
    validate=validate,
)
