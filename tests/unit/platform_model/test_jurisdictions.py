"""Jurisdictions as cited data: the shipped files load, their verdicts follow from the region catalog, and
each bad file is one line naming the file and the key."""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from platform_model.errors import ConfigError
from platform_model.jurisdictions import JURISDICTIONS_DIR, jurisdictions, load_jurisdiction, load_jurisdictions
from platform_model.locations import catalog


def shipped(name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((JURISDICTIONS_DIR / f"{name}.yaml").read_text())
    return data


def error_of(tmp_path: Path, name: str, change: Callable[[dict[str, Any]], None]) -> str:
    data = shipped(name)
    change(data)
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    with pytest.raises(ConfigError) as caught:
        load_jurisdiction(path)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    return message[len(f"{path}: ") :]


def test_the_issue_jurisdictions_and_refusals_are_shipped() -> None:
    found = jurisdictions()
    assert {
        "eu-eea",
        "united-states",
        "china",
        "united-kingdom",
        "switzerland",
        "japan",
        "south-korea",
        "india",
        "brazil",
        "canada",
        "australia",
    } <= set(found)
    refused = {name for name, j in found.items() if j.verdict == "not-deployable"}
    assert {"russia", "vietnam"} <= refused


def test_every_fact_has_a_source_and_a_reading_date() -> None:
    for j in jurisdictions().values():
        assert j.read == datetime.date(2026, 12, 5), j.name
        assert j.rule.source.startswith("https://") and j.rule.quote, j.name
        assert j.locations_source.startswith("https://"), j.name
        for flow in j.flows.values():
            assert flow.source, (j.name, flow.service)
        assert j.sources[0] == j.rule.source


def test_a_location_belongs_to_one_jurisdiction_at_most() -> None:
    seen: dict[str, str] = {}
    for j in jurisdictions().values():
        for location in j.locations:
            assert location not in seen, f"{location} in {seen.get(location)} and {j.name}"
            seen[location] = j.name


def test_restricted_locations_come_from_the_region_catalog() -> None:
    eu = jurisdictions()["eu-eea"]
    assert set(eu.restricted) == {loc for loc in eu.locations if catalog().locations[loc].restricted}
    assert "germanynorth" in eu.restricted and "germanynorth" not in eu.open_locations


def test_maps_stays_only_where_its_geography_is() -> None:
    found = jurisdictions()
    assert found["eu-eea"].flows["maps"].kept and found["united-states"].flows["maps"].kept
    for name in ("united-kingdom", "japan", "brazil", "australia"):
        flow = found[name].flows["maps"]
        assert not flow.kept and found[name].without == ("maps",)
        assert flow.source == "https://learn.microsoft.com/azure/azure-maps/geographic-scope"
    assert found["china"].flows["maps"].where == "Azure Maps is not offered in Azure China"


def test_brazil_keeps_iot_data_only_with_data_residency() -> None:
    brazil = jurisdictions()["brazil"]
    for service in ("iothub", "dps"):
        flow = brazil.flows[service]
        assert flow.kept and flow.limited
        assert "brazilsouth -> southcentralus" in flow.where
        assert flow.condition == "iot_data_residency: true, primary in brazilsouth"
    assert "brazilsoutheast" in brazil.restricted


def test_iot_data_leaves_where_every_pair_is_abroad_and_no_opt_out(tmp_path: Path) -> None:
    # A made-up jurisdiction holding only East Asia (paired with Southeast Asia, which has the opt-out, not East Asia).
    data = shipped("japan") | {"name": "hong-kong", "locations": ["eastasia"], "verdict": "deployable-without"}
    data["without"] = ["iothub", "dps", "maps"]
    path = tmp_path / "hong-kong.yaml"
    path.write_text(yaml.safe_dump(data))
    found = load_jurisdiction(path)
    assert not found.flows["iothub"].kept
    assert found.flows["iothub"].where == "fails over to a paired region outside hong-kong (eastasia -> southeastasia)"


def test_no_open_location_is_not_deployable() -> None:
    russia = jurisdictions()["russia"]
    assert russia.locations == () and russia.without == ()
    assert all(not flow.kept for flow in russia.flows.values())


def test_loader_reads_any_folder(tmp_path: Path) -> None:
    (tmp_path / "japan.yaml").write_text((JURISDICTIONS_DIR / "japan.yaml").read_text())
    assert list(load_jurisdictions(tmp_path)) == ["japan"]


# --- bad data: one line naming the file and the key -----------------------------------------------


def test_refuses_an_unknown_key(tmp_path: Path) -> None:
    message = error_of(tmp_path, "japan", lambda d: d.update(capital="Tokyo"))
    assert message.startswith("capital: unknown key (allowed: name, title, read, cloud, rule, ")


def test_refuses_a_rule_without_source(tmp_path: Path) -> None:
    message = error_of(tmp_path, "japan", lambda d: d["rule"].pop("source"))
    assert message == "rule.source: required key is missing"


def test_refuses_a_location_outside_the_catalog(tmp_path: Path) -> None:
    message = error_of(tmp_path, "japan", lambda d: d["locations"].append("Japan North"))
    assert message == "locations[2]: 'japannorth' is not in the region catalog (catalog/regions.yaml)"


def test_refuses_a_location_of_another_cloud(tmp_path: Path) -> None:
    message = error_of(tmp_path, "japan", lambda d: d["locations"].append("chinanorth3"))
    assert message == "locations[2]: 'chinanorth3' is a location of Azure China, not of Azure (public cloud)"


def test_refuses_a_verdict_the_facts_do_not_support(tmp_path: Path) -> None:
    message = error_of(tmp_path, "united-kingdom", lambda d: d.update(verdict="deployable", without=[]))
    assert message.startswith(
        "verdict: 'deployable' but the facts say 'deployable-without' (Azure Maps: Azure Maps keeps data only in its "
        "eu and us geographies"
    )


def test_refuses_a_wrong_list_of_left_out_services(tmp_path: Path) -> None:
    message = error_of(tmp_path, "brazil", lambda d: d.update(without=["maps", "iothub"]))
    assert message == "without: ['maps', 'iothub'] but the services whose data would leave are ['maps']"


def test_refuses_deployable_without_a_location(tmp_path: Path) -> None:
    message = error_of(tmp_path, "russia", lambda d: d.update(verdict="deployable"))
    assert message.startswith("verdict: 'deployable' but the facts say 'not-deployable' (no unrestricted Azure")


def test_refuses_a_name_that_is_not_the_file_name(tmp_path: Path) -> None:
    message = error_of(tmp_path, "japan", lambda d: d.update(name="nippon"))
    assert message == "name: 'nippon' does not match the file name 'japan'"


def test_a_catalog_change_reaches_the_verdict() -> None:
    # If the UK had an Azure Maps account location, the shipped UK file (deployable without maps) would be refused.
    facts = catalog()
    south = facts.locations["uksouth"]
    changed = dataclasses.replace(
        facts,
        maps_locations=dict(facts.maps_locations) | {"uksouth": "eu"},
        locations=dict(facts.locations) | {"uksouth": dataclasses.replace(south, services=south.services | {"maps"})},
    )
    with pytest.raises(ConfigError) as caught:
        load_jurisdiction(JURISDICTIONS_DIR / "united-kingdom.yaml", changed)
    assert str(caught.value).startswith(
        "platform_model/catalog/jurisdictions/united-kingdom.yaml: verdict: 'deployable-without' but the facts say "
        "'deployable'"
    )
