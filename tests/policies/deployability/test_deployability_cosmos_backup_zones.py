"""deployability-cosmos-backup-zones: zonal backups and replicas where both locations have zones, then not."""

from __future__ import annotations

from typing import Any

from policies.model import ResourceView, RuleContext
from policies.rules.deployability.cosmos_backup_zones import RULE
from policies.testing import changed, details

COSMOS = "azure-native:cosmosdb:DatabaseAccount"
ACCOUNT: dict[str, Any] = {
    "location": "westeurope",
    "locations": [
        {"locationName": "westeurope", "failoverPriority": 0, "isZoneRedundant": True},
        {"locationName": "northeurope", "failoverPriority": 1, "isZoneRedundant": True},
    ],
    "backupPolicy": {"type": "Periodic", "periodicModeProperties": {"backupStorageRedundancy": "Zone"}},
}


def test_accepts_zones_where_every_location_has_them(eu: RuleContext) -> None:
    assert details(RULE, ResourceView.of(COSMOS, ACCOUNT), eu) == []


def test_refuses_zone_backup_with_a_zoneless_replica(eu: RuleContext) -> None:
    account = changed(
        changed(ACCOUNT, "locations.1.locationName", "germanynorth"), "locations.1.isZoneRedundant", False
    )
    assert details(RULE, ResourceView.of(COSMOS, account), eu) == [
        "backupPolicy.periodicModeProperties.backupStorageRedundancy is 'Zone' but germanynorth has no availability "
        "zones (allowed: 'Local' there; source: learn.microsoft.com/azure/cosmos-db/periodic-backup-storage-redundancy)"
    ]


def test_refuses_zone_redundant_replica_without_zones(cn: RuleContext) -> None:
    account = changed(
        changed(changed(ACCOUNT, "locations.0.locationName", "chinanorth3"), "locations.1.locationName", "chinaeast2"),
        "backupPolicy.periodicModeProperties.backupStorageRedundancy",
        "Local",
    )
    found = details(RULE, ResourceView.of(COSMOS, account), cn)
    assert found == [
        "locations[1].isZoneRedundant is True but chinaeast2 has no availability zones (allowed: False there; "
        "source: learn.microsoft.com/azure/cosmos-db/periodic-backup-storage-redundancy)"
    ]
