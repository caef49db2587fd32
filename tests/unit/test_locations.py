"""The Azure location catalog: clouds, pairs, zones and what each cloud offers."""

from __future__ import annotations

import pytest

from autocloud.locations import (
    DNS,
    LOCATIONS,
    find_location,
    locations_in,
    maps_location,
    normalise_location,
    offers,
    paired_region,
    storage_sku,
)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("westeurope", "northeurope"),
        ("germanywestcentral", "germanynorth"),
        ("francecentral", "francesouth"),
        ("swedencentral", "swedensouth"),
        ("eastus", "westus"),
        ("eastus2", "centralus"),
        ("westus2", "westcentralus"),
        ("chinanorth", "chinaeast"),
        ("chinanorth2", "chinaeast2"),
        ("chinanorth3", "chinaeast3"),
    ],
)
def test_published_pairs_are_symmetric(a: str, b: str) -> None:
    assert paired_region(a) == b
    assert paired_region(b) == a


def test_westus3_pairs_with_eastus_one_way() -> None:
    assert paired_region("westus3") == "eastus"
    assert paired_region("eastus") == "westus"


def test_every_pair_is_in_the_same_cloud() -> None:
    for location in LOCATIONS.values():
        if location.pair is not None:
            partner = LOCATIONS[location.pair]
            assert partner.cloud == location.cloud, location.name


def test_azure_china_has_six_locations_and_no_maps() -> None:
    assert locations_in("china") == (
        "chinaeast",
        "chinaeast2",
        "chinaeast3",
        "chinanorth",
        "chinanorth2",
        "chinanorth3",
    )
    assert not offers("china", "maps")
    assert offers("china", "iothub") and offers("public", "maps")


def test_names_are_normalised() -> None:
    assert normalise_location("West Europe") == "westeurope"
    assert normalise_location("  East US 2 ") == "eastus2"
    found = find_location("China North 3")
    assert found is not None and found.cloud == "china"
    assert find_location("westeuropa") is None


def test_storage_never_geo_replicates() -> None:
    assert storage_sku("westeurope") == "Standard_ZRS"
    assert storage_sku("germanynorth") == "Standard_LRS"
    assert {storage_sku(name) for name in LOCATIONS} == {"Standard_ZRS", "Standard_LRS"}


def test_maps_location_prefers_primary_then_boundary() -> None:
    assert maps_location(["westeurope", "northeurope"], "westeurope") == "westeurope"
    assert maps_location(["eastus", "eastus2", "centralus"], "eastus2") == "eastus"
    assert maps_location(["chinanorth3"], "chinanorth3") is None


def test_china_dns_differs_everywhere() -> None:
    public, china = DNS["public"], DNS["china"]
    assert china.iothub == "azure-devices.cn" and china.servicebus.endswith("chinacloudapi.cn")
    assert set(public.private_zones) == set(china.private_zones)
    assert not set(public.private_zones.values()) & set(china.private_zones.values())
