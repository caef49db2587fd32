"""Every resource goes to a location that is open to us and offers its service.

Sources, as data in platform_model/catalog/regions.yaml: access-restricted locations ("access is
restricted to support specific customer scenarios, such as disaster recovery within a specific
geographic area", https://learn.microsoft.com/azure/reliability/regions-list; Azure China: China
East 3, https://learn.microsoft.com/azure/china/overview-regions) need an access request, so a first
deployment there fails; a service a location does not offer (products by region; Azure Maps accounts
only in the locations the catalog lists) fails the same way. Cosmos DB replica locations count too.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from platform_model.locations import Service, location_problem
from policies.facts.azure import (
    AKS,
    COSMOS_ACCOUNT,
    DPS,
    EVENTHUB_NAMESPACE,
    GLOBAL_TYPES,
    IOT_HUB,
    MAPS_ACCOUNT,
    is_located,
)
from policies.facts.props import get, known, mappings
from policies.model import ResourceRule, ResourceView, RuleContext

#: The catalog's service name for each resource type that needs one.
SERVICE_OF_TYPE: Mapping[str, Service] = {
    IOT_HUB: "iothub",
    DPS: "dps",
    EVENTHUB_NAMESPACE: "eventhubs",
    AKS: "aks",
    COSMOS_ACCOUNT: "cosmosdb",
    MAPS_ACCOUNT: "maps",
}


def _locations(view: ResourceView) -> Iterator[tuple[str, str]]:
    """(property path, location) for the resource and, for Cosmos DB, each replica; a location only
    known at deployment is the residency rules' to report (they say "cannot verify")."""
    location = known(view.props, "location")
    if isinstance(location, str) and location.lower() != "global":
        yield "location", location
    if view.type == COSMOS_ACCOUNT:
        for index, replica in enumerate(mappings(get(view.props, "locations"))):
            name = known(replica, "locationName")
            if isinstance(name, str):
                yield f"locations[{index}].locationName", name


def validate(view: ResourceView, ctx: RuleContext) -> Iterator[str]:
    if not is_located(view) or view.type in GLOBAL_TYPES:
        return
    service = SERVICE_OF_TYPE.get(view.type)
    for path, location in _locations(view):
        problem = location_problem(location, service)
        if problem is not None:
            yield f"{path}: {problem}"


RULE = ResourceRule(
    name="deployability-location-capability",
    description="Resources are placed only in locations that are not access-restricted and that offer "
    "their service (region catalog: platform_model/catalog/regions.yaml).",
    remediation="Pick primary/secondary locations the catalog lists as unrestricted and offering every "
    "enabled service; `autocloud check` names the location and the source.",
    resource_types=frozenset(),
    validate=validate,
)
