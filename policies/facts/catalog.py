"""The region catalog's view of a resource's location, for the rules that judge what a location offers.

Apart from `policies.facts.azure` because the catalog needs pydantic and PyYAML, which the offline
check's runner (it loads `policies.facts.azure`) does not have in a program's environment.
"""

from __future__ import annotations

from platform_model.locations import AzureLocation, find_location
from policies.facts.azure import location_of
from policies.model import ResourceView


def catalog_location(view: ResourceView) -> AzureLocation | None:
    """The catalog's entry for the resource's ``location`` (None when unset, unknown or not plain)."""
    location = location_of(view)
    return find_location(location) if isinstance(location, str) else None
