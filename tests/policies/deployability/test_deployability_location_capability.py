"""deployability-location-capability: resources in open locations that offer them, then moved."""

from __future__ import annotations

from policies.model import ResourceView, RuleContext
from policies.rules.deployability.location_capability import RULE
from policies.testing import changed, details

COSMOS = "azure-native:cosmosdb:DatabaseAccount"
MAPS = "azure-native:maps:Account"
RG = "azure-native:resources:ResourceGroup"
ACCOUNT = {
    "location": "chinanorth3",
    "locations": [
        {"locationName": "chinanorth3", "failoverPriority": 0},
        {"locationName": "chinaeast2", "failoverPriority": 1},
    ],
}


def test_accepts_open_locations_offering_the_service(cn: RuleContext, eu: RuleContext) -> None:
    assert details(RULE, ResourceView.of(COSMOS, ACCOUNT), cn) == []
    assert details(RULE, ResourceView.of(MAPS, {"location": "westeurope"}), eu) == []


def test_refuses_restricted_replica_location(cn: RuleContext) -> None:
    found = details(RULE, ResourceView.of(COSMOS, changed(ACCOUNT, "locations.1.locationName", "chinaeast3")), cn)
    assert len(found) == 1
    assert found[0].startswith("locations[1].locationName: 'chinaeast3' (China East 3) is access-restricted")
    assert "learn.microsoft.com/azure/china/overview-regions" in found[0]


def test_refuses_restricted_resource_location(eu: RuleContext) -> None:
    found = details(RULE, ResourceView.of(RG, {"location": "germanynorth"}), eu)
    assert len(found) == 1 and found[0].startswith("location: 'germanynorth' (Germany North) is access-restricted")


def test_refuses_service_the_location_does_not_offer(eu: RuleContext) -> None:
    found = details(RULE, ResourceView.of(MAPS, {"location": "eastus2"}), eu)
    assert len(found) == 1 and found[0].startswith("location: Azure Maps is not offered in 'eastus2'")


def test_refuses_unknown_location(eu: RuleContext) -> None:
    found = details(RULE, ResourceView.of(RG, {"location": "westeurope9"}), eu)
    assert found == ["location: 'westeurope9' is not an Azure location in the catalog"]
