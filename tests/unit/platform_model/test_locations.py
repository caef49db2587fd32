"""The Azure location catalog: clouds, pairs, zones and what each cloud offers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from platform_model.locations import (
    CATALOG_PATH,
    DNS,
    catalog,
    dps_private_endpoints,
    find_location,
    load_catalog,
    location_problem,
    locations_in,
    maps_location,
    offers,
    paired_region,
    storage_sku,
)
from platform_model.vocabulary import normalise_location


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
    for location in catalog().locations.values():
        if location.pair is not None:
            partner = catalog().locations[location.pair]
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
    assert {storage_sku(name) for name in catalog().locations} == {"Standard_ZRS", "Standard_LRS"}


def test_maps_location_prefers_primary_then_boundary() -> None:
    assert maps_location(["westeurope", "northeurope"], "westeurope") == "westeurope"
    assert maps_location(["eastus", "eastus2", "centralus"], "eastus2") == "eastus"
    assert maps_location(["chinanorth3"], "chinanorth3") is None


def test_china_dns_differs_everywhere() -> None:
    public, china = DNS["public"], DNS["china"]
    assert china.iothub == "azure-devices.cn" and china.servicebus.endswith("chinacloudapi.cn")
    assert set(public.private_zones) == set(china.private_zones)
    assert not set(public.private_zones.values()) & set(china.private_zones.values())


# --- the catalog as data -------------------------------------------------------------------------------


def test_catalog_marks_access_restricted_locations() -> None:
    restricted = {name for name, loc in catalog().locations.items() if loc.restricted}
    assert {"chinaeast3", "germanynorth", "swedensouth"} <= restricted
    assert not restricted & {"westeurope", "northeurope", "eastus2", "centralus", "chinanorth3", "chinaeast2"}


def test_restricted_public_locations_are_those_regions_list_marks() -> None:
    """regions-list (2026-07-28) marks exactly these; Korea South lost its mark on 2025-07-31."""
    public = {name for name, loc in catalog().locations.items() if loc.restricted and loc.cloud == "public"}
    assert public == {
        "australiacentral2",
        "brazilsoutheast",
        "francesouth",
        "germanynorth",
        "norwaywest",
        "southafricawest",
        "swedensouth",
        "switzerlandwest",
        "uaecentral",
    }
    assert find_location("koreacentral") is not None
    assert location_problem("koreasouth") is None


def test_every_location_names_its_source() -> None:
    assert all(loc.source.startswith("https://") for loc in catalog().locations.values())


def test_only_china_north_3_has_zones_in_azure_china() -> None:
    assert [name for name in locations_in("china") if catalog().locations[name].zones] == ["chinanorth3"]


def test_iot_data_residency_and_min_tls_where_azure_offers_them() -> None:
    assert {n for n, loc in catalog().locations.items() if loc.iot_data_residency} == {"brazilsouth", "southeastasia"}
    assert all(loc.iothub_min_tls == (loc.cloud == "public") for loc in catalog().locations.values())


def test_a_location_can_refuse_min_tls_its_cloud_offers(tmp_path: Path) -> None:
    path = write_catalog(tmp_path, lambda d: d["locations"]["westeurope"].update(iothub_min_tls=False))
    changed = load_catalog(path)
    assert not changed.locations["westeurope"].iothub_min_tls
    assert changed.locations["northeurope"].iothub_min_tls


def test_dps_private_endpoints_only_in_the_public_cloud() -> None:
    assert dps_private_endpoints("public")
    assert not dps_private_endpoints("china")
    assert {loc.cloud for loc in catalog().locations.values() if loc.dps_private_endpoint} == {"public"}


def test_zone_redundant_cosmos_access_is_marked_where_azure_refused_it() -> None:
    marked = {name for name, loc in catalog().locations.items() if loc.cosmosdb_zone_access}
    assert marked == {"eastus2", "centralus"}
    assert all(catalog().locations[name].zones for name in marked), "zone redundancy needs zones"
    assert catalog().cosmosdb_zone_access_source.startswith("https://learn.microsoft.com/")


def test_catalog_refuses_zone_access_in_an_unlisted_location(tmp_path: Path) -> None:
    path = write_catalog(tmp_path, lambda d: d["cosmosdb_zone_access"].update(locations=["atlantis"]))
    with pytest.raises(
        ValueError, match=r"^regions.yaml: cosmosdb_zone_access.locations: 'atlantis' is not in the catalog$"
    ):
        load_catalog(path)


def test_catalog_requires_the_dps_private_endpoint_fact_per_cloud(tmp_path: Path) -> None:
    path = write_catalog(tmp_path, lambda d: d["clouds"]["china"].pop("dps_private_endpoint"))
    with pytest.raises(ValueError, match=r"^regions.yaml: clouds.china.dps_private_endpoint: Field required$"):
        load_catalog(path)


def test_location_problem_names_restriction_and_missing_service() -> None:
    assert location_problem("westeurope", "maps") is None
    assert location_problem("East US 2", "maps") == (
        "Azure Maps is not offered in 'eastus2' (source: https://learn.microsoft.com/azure/reliability/regions-list)"
    )
    assert (location_problem("chinaeast3") or "").startswith("'chinaeast3' (China East 3) is access-restricted")


def write_catalog(tmp_path: Path, change: Callable[[dict[str, Any]], None]) -> Path:
    data = yaml.safe_load(CATALOG_PATH.read_text())
    change(data)
    path = tmp_path / "regions.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_catalog_refuses_a_pair_it_does_not_list(tmp_path: Path) -> None:
    path = write_catalog(tmp_path, lambda d: d["locations"]["westeurope"].update(pair="atlantis"))
    with pytest.raises(
        ValueError, match=r"^regions.yaml: locations.westeurope.pair: 'atlantis' is not in the catalog$"
    ):
        load_catalog(path)


def test_catalog_refuses_an_unknown_service(tmp_path: Path) -> None:
    path = write_catalog(tmp_path, lambda d: d["clouds"]["public"].update(services=["iothub", "teleport"]))
    with pytest.raises(ValueError, match=r"^regions.yaml: clouds.public.services.1: Input should be "):
        load_catalog(path)


def test_catalog_refuses_maps_in_an_unlisted_location(tmp_path: Path) -> None:
    path = write_catalog(tmp_path, lambda d: d["maps"]["locations"].update(atlantis="eu"))
    with pytest.raises(ValueError, match=r"^regions.yaml: maps.locations: 'atlantis' is not in the catalog$"):
        load_catalog(path)
