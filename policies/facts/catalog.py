"""The region catalog's view of a resource's location, for the rules that judge what a location offers, and the
jurisdiction a region serves, for the residency rules that judge where a service's data goes.

Apart from `policies.facts.azure` because the catalog needs pydantic and PyYAML, which the offline
check's runner (it loads `policies.facts.azure`) does not have in a program's environment.
"""

from __future__ import annotations

from platform_model.jurisdictions import Jurisdiction, jurisdictions
from platform_model.locations import AzureLocation, find_location
from policies.facts.azure import location_of
from policies.model import ResourceView, RuleContext


def catalog_location(view: ResourceView) -> AzureLocation | None:
    """The catalog's entry for the resource's ``location`` (None when unset, unknown or not plain)."""
    location = location_of(view)
    return find_location(location) if isinstance(location, str) else None


def jurisdiction_of(ctx: RuleContext) -> Jurisdiction | None:
    """The jurisdiction the context's region serves (None: the config names none); ValueError, one line, when
    the name is not in the catalog, so a rule refuses rather than passes what it cannot judge."""
    if not ctx.jurisdiction:
        return None
    known = jurisdictions()
    found = known.get(ctx.jurisdiction)
    if found is None:
        raise ValueError(
            f"policy config 'jurisdiction' is {ctx.jurisdiction!r}, not a jurisdiction of the catalog "
            f"(known: {', '.join(known)})"
        )
    return found
