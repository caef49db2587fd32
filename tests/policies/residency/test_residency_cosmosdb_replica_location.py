"""residency-cosmosdb-replica-location."""

from __future__ import annotations

from policies.model import ResourceView, RuleContext
from policies.rules.residency.cosmosdb_replica_location import RULE
from policies.testing import DELETE, changed, details

COSMOS = "azure-native:cosmosdb:DatabaseAccount"
ACCOUNT = {
    "location": "westeurope",
    "databaseAccountOfferType": "Standard",
    "locations": [
        {"locationName": "westeurope", "failoverPriority": 0},
        {"locationName": "North Europe", "failoverPriority": 1},
    ],
}


def test_accepts_replicas_inside_boundary(eu: RuleContext) -> None:
    assert details(RULE, ResourceView.of(COSMOS, ACCOUNT), eu) == []


def test_refuses_replica_outside_boundary(eu: RuleContext) -> None:
    found = details(RULE, ResourceView.of(COSMOS, changed(ACCOUNT, "locations.1.locationName", "eastus")), eu)
    assert len(found) == 1
    assert "locations[1].locationName is 'eastus' (failoverPriority 1)" in found[0]
    assert "westeurope" in found[0]


def test_refuses_missing_locations(eu: RuleContext) -> None:
    assert (
        "locations is not set" in details(RULE, ResourceView.of(COSMOS, changed(ACCOUNT, "locations", DELETE)), eu)[0]
    )


def test_refuses_replica_without_location_name(eu: RuleContext) -> None:
    found = details(RULE, ResourceView.of(COSMOS, changed(ACCOUNT, "locations.0.locationName", DELETE)), eu)
    assert "locations[0].locationName is not set" in found[0]


def test_refuses_v2_documentdb_token(eu: RuleContext) -> None:
    view = ResourceView.of(
        "azure-native:documentdb:DatabaseAccount", changed(ACCOUNT, "locations.0.locationName", "eastus")
    )
    assert len(details(RULE, view, eu)) == 1
