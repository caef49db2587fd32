"""Cosmos DB zone redundancy only where every location involved has availability zones.

Sources: zone-redundant backup storage "is only available in regions that support availability
zones" (https://learn.microsoft.com/azure/cosmos-db/periodic-backup-storage-redundancy), and a
zone-redundant replica needs zones in its region
(https://learn.microsoft.com/azure/reliability/reliability-cosmos-db-nosql). Backups are kept for the
account across its regions, so ``Zone`` backup redundancy is accepted only when every replica location
has zones. Which locations have zones: ``zones`` in platform_model/catalog/regions.yaml (Azure China: only
China North 3).
"""

from __future__ import annotations

from collections.abc import Iterator

from platform_model.locations import has_zones
from policies.facts.azure import COSMOS_ACCOUNT
from policies.facts.props import get, mappings
from policies.model import ResourceRule, ResourceView, RuleContext

SOURCE = "learn.microsoft.com/azure/cosmos-db/periodic-backup-storage-redundancy"


def validate(view: ResourceView, ctx: RuleContext) -> Iterator[str]:
    replicas = list(mappings(get(view.props, "locations")))
    names = [str(get(r, "locationName")) for r in replicas if isinstance(get(r, "locationName"), str)]
    if not names and isinstance(get(view.props, "location"), str):
        names = [str(get(view.props, "location"))]
    without = [name for name in names if not has_zones(name)]
    redundancy = get(view.props, "backupPolicy.periodicModeProperties.backupStorageRedundancy")
    if isinstance(redundancy, str) and redundancy.lower() == "zone" and without:
        yield (
            f"backupPolicy.periodicModeProperties.backupStorageRedundancy is 'Zone' but {', '.join(without)} "
            f"has no availability zones (allowed: 'Local' there; source: {SOURCE})"
        )
    for index, replica in enumerate(replicas):
        name = get(replica, "locationName")
        if get(replica, "isZoneRedundant") is True and isinstance(name, str) and not has_zones(name):
            yield (
                f"locations[{index}].isZoneRedundant is True but {name} has no availability zones "
                f"(allowed: False there; source: {SOURCE})"
            )


RULE = ResourceRule(
    name="deployability-cosmos-backup-zones",
    description="Cosmos DB zone-redundant backups and replicas only where every location involved has "
    "availability zones.",
    remediation="Set resilience.zone_redundant: false in the profile when a replica location has no zones "
    "(backups become 'Local', replicas not zonal).",
    resource_types=frozenset({COSMOS_ACCOUNT}),
    validate=validate,
)
