"""residency-maps-allowed."""

from __future__ import annotations

import dataclasses

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


def test_judges_maps_by_the_jurisdiction_even_where_the_config_allows_it(eu: RuleContext) -> None:
    """A UK region whose pack config says mapsAllowed (a hand-edited config, or a profile check bypassed) still
    gets no Maps account: the UK is in no Azure Maps geography, whatever location the account names."""
    uk = dataclasses.replace(eu, region="uk", boundary=frozenset({"uksouth", "ukwest"}), jurisdiction="united-kingdom")
    found = details(RULE, ResourceView.of(MAPS, changed(ACCOUNT, "location", "uksouth")), uk)
    assert found == [
        "Azure Maps would take data out of united-kingdom: Azure Maps keeps data only in its eu and us geographies "
        "(eu: westeurope, northeurope; us: eastus, westus2, westcentralus), none in united-kingdom (source: "
        "https://learn.microsoft.com/azure/azure-maps/geographic-scope); allowed: no Maps account in region uk"
    ]
    assert details(RULE, ResourceView.of(MAPS, ACCOUNT), dataclasses.replace(eu, jurisdiction="eu-eea")) == []


def test_an_unknown_jurisdiction_in_the_config_is_refused_not_passed(eu: RuleContext) -> None:
    found = details(RULE, ResourceView.of(MAPS, ACCOUNT), dataclasses.replace(eu, jurisdiction="atlantis"))
    assert len(found) == 1
    assert found[0].startswith("policy config 'jurisdiction' is 'atlantis', not a jurisdiction of the catalog")
