"""Geo-redundant storage is refused when the paired region is outside the boundary.

GRS, RA-GRS, GZRS and RA-GZRS copy every write to the location's paired region (Microsoft's
published pairs, `platform_model.locations`); where that pair is outside the boundary the copy leaves
the region. The location judged is the one azure-native applies (`Locations`); where that is only
known at deployment the rule says it cannot verify (advisory), and a location with no published pair
is refused.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from platform_model.locations import paired_region
from policies.facts.azure import STORAGE_ACCOUNT, Locations
from policies.facts.props import get, show
from policies.model import ResourceView, RuleContext, StackRule, Unverified, each


def is_geo_redundant(sku: str) -> bool:
    """Whether a storage SKU name replicates to the paired region (GRS and GZRS families)."""
    return any(kind in sku.upper() for kind in ("GRS", "GZRS"))


def validate(resources: Sequence[ResourceView], ctx: RuleContext) -> Iterator[tuple[str, str]]:
    locations = Locations(resources)

    def judge(view: ResourceView) -> Iterator[str]:
        sku = get(view.props, "sku.name")
        if not isinstance(sku, str):
            yield f"sku.name is {show(sku)}, so redundancy cannot be verified (allowed: a ZRS or LRS SKU)"
            return
        if not is_geo_redundant(sku):
            return
        placed = locations.of(view)
        if placed.unverifiable is not None or placed.location is None:
            reason = placed.unverifiable or placed.source
            yield Unverified(
                f"cannot verify where sku.name '{sku}' replicates: the account's location is unknown ({reason}); "
                "allowed: a ZRS or LRS SKU, or geo-redundancy where the pair is in the boundary"
            )
            return
        location = placed.location
        pair = paired_region(location) if isinstance(location, str) else None
        if pair is None:
            yield (
                f"sku.name '{sku}' replicates to the paired region of {show(location)}, which has no published "
                "pair here (allowed: a ZRS or LRS SKU)"
            )
        elif not ctx.in_boundary(pair):
            yield (
                f"sku.name '{sku}' replicates to '{pair}', the pair of '{location}', outside the {ctx.region} "
                f"boundary (allowed: ZRS/LRS, or geo-redundancy only where the pair is in {ctx.allowed()})"
            )

    yield from each((r for r in resources if r.type == STORAGE_ACCOUNT), judge)


RULE = StackRule(
    name="residency-storage-redundancy",
    description="Storage redundancy never replicates to a paired region outside the region's boundary.",
    remediation="Use Standard_ZRS (or Standard_LRS where the location has no zones); "
    "platform_model.locations.storage_sku(location) picks it.",
    validate=validate,
)
