"""residency-maps-allowed."""

from __future__ import annotations

from policies.model import ResourceView, RuleContext
from policies.rules.residency.maps_allowed import RULE
from policies.testing import changed, details

MAPS = "azure-native:maps:Account"
ACCOUNT = {
    "location": "westeurope",
    "kind": "Gen2",
    "sku": {"name": "G2"},
    "properties": {"disableLocalAuth": True, "locations": [{"locationName": "northeurope"}]},
}


def test_accepts_maps_where_allowed(eu: RuleContext) -> None:
    assert details(RULE, ResourceView.of(MAPS, ACCOUNT), eu) == []


def test_refuses_maps_in_china(cn: RuleContext) -> None:
    found = details(RULE, ResourceView.of(MAPS, changed(ACCOUNT, "location", "chinanorth3")), cn)
    assert found == [
        "Azure Maps is not allowed in region cn (cloud china); allowed: no Maps account (the profile's "
        "services.maps is false)"
    ]


def test_refuses_processing_location_outside(eu: RuleContext) -> None:
    found = details(RULE, ResourceView.of(MAPS, changed(ACCOUNT, "properties.locations.0.locationName", "eastus")), eu)
    assert "properties.locations[0].locationName is 'eastus'" in found[0]
