"""Region profiles and stack config: the shipped files load, and each bad input gives one line."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
import yaml

from platform_model.errors import ConfigError
from platform_model.jurisdictions import jurisdictions
from platform_model.locations import catalog, find_location
from platform_model.paths import REPO_ROOT
from platform_model.profiles import available_profiles, load_profile, parse_profile
from platform_model.stack import STACK_CONFIG_KEYS, profile_for_stack, resolve_stack, stack_config_from_values

REPO = REPO_ROOT
KNOWN = ", ".join(available_profiles())
"""The shipped profiles as an error message lists them."""


def eu_data() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((REPO / "regions" / "eu.yaml").read_text())
    return data


def cn_data() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((REPO / "regions" / "cn.yaml").read_text())
    return data


def error_of(data: dict[str, Any], source: str = "regions/eu.yaml") -> str:
    with pytest.raises(ConfigError) as caught:
        parse_profile(data, source)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_shipped_profiles_match_the_agreed_regions() -> None:
    eu, us, cn = load_profile("eu"), load_profile("us"), load_profile("cn")
    assert eu.boundary == (
        "westeurope",
        "northeurope",
        "germanywestcentral",
        "germanynorth",
        "francecentral",
        "swedencentral",
    )
    assert (eu.primary, eu.secondary, eu.fleet.vehicles) == ("westeurope", "northeurope", 2_000_000)
    assert (us.primary, us.secondary, us.fleet.vehicles, len(us.boundary)) == ("eastus2", "centralus", 2_500_000, 9)
    # China East 3 is access-restricted: the replica goes to China East 2.
    assert (cn.cloud, cn.primary, cn.secondary, cn.fleet.vehicles) == ("china", "chinanorth3", "chinaeast2", 1_000_000)
    assert cn.services.maps is False and cn.provider_environment == "china"
    for profile in map(load_profile, available_profiles()):
        assert profile.tags["data-residency"] == profile.name
        assert profile.fleet.messages_per_vehicle_per_hour == 60 and profile.fleet.message_kb == 1
        # Data residency exactly where the primary's paired region is abroad (Brazil South's pair is in the US).
        pair = find_location(profile.primary).pair  # type: ignore[union-attr]
        assert profile.residency.iot_data_residency is (pair is not None and pair not in profile.boundary)
        assert profile.devices.access == "public"
    assert (eu.resilience.zone_redundant, us.resilience.zone_redundant, cn.resilience.zone_redundant) == (
        True,
        True,
        False,
    )


def test_location_spellings_are_normalised() -> None:
    data = eu_data()
    data["residency"]["primary"] = "West Europe"
    data["residency"]["boundary"][1] = "North  Europe"
    profile = parse_profile(data, "regions/eu.yaml")
    assert profile.primary == "westeurope"
    assert profile.boundary[1] == "northeurope"


def test_profile_is_frozen() -> None:
    profile = load_profile("eu")
    with pytest.raises(Exception, match="frozen"):
        profile.name = "xx"


def test_refuses_unknown_key() -> None:
    data = eu_data()
    data["residency"]["backup"] = "westus"
    assert error_of(data) == (
        "regions/eu.yaml: residency.backup: unknown key (allowed: boundary, primary, secondary, iot_data_residency)"
    )


def test_refuses_unknown_top_level_key() -> None:
    assert error_of(eu_data() | {"owner": "x"}).startswith("regions/eu.yaml: owner: unknown key (allowed: name,")


def test_refuses_location_not_in_catalog() -> None:
    data = eu_data()
    data["residency"]["boundary"][2] = "germanywest"
    assert error_of(data) == (
        "regions/eu.yaml: residency.boundary[2]: 'germanywest' is not an Azure location "
        "(did you mean germanywestcentral?)"
    )


def test_refuses_location_of_the_other_cloud() -> None:
    data = cn_data()
    data["residency"]["boundary"].append("westeurope")
    assert error_of(data, "regions/cn.yaml") == (
        "regions/cn.yaml: residency.boundary[4]: 'westeurope' is a location of Azure (public cloud), not of Azure China"
    )


def test_refuses_secondary_outside_boundary() -> None:
    data = eu_data()
    data["residency"]["secondary"] = "uksouth"
    assert error_of(data) == (
        "regions/eu.yaml: residency.secondary: 'uksouth' is outside the boundary (allowed: westeurope, "
        "northeurope, germanywestcentral, germanynorth, francecentral, swedencentral)"
    )


def test_refuses_secondary_equal_to_primary() -> None:
    data = eu_data()
    data["residency"]["secondary"] = "westeurope"
    assert error_of(data) == "regions/eu.yaml: residency.secondary: must differ from primary 'westeurope'"


def test_refuses_maps_in_china() -> None:
    data = cn_data()
    data["services"]["maps"] = True
    assert error_of(data, "regions/cn.yaml") == (
        "regions/cn.yaml: services.maps: Azure Maps is not offered in Azure China"
    )


def test_refuses_maps_where_no_boundary_location_has_it() -> None:
    data = eu_data()
    data["residency"] |= {"boundary": ["germanywestcentral", "germanynorth"], "primary": "germanywestcentral"}
    data["residency"]["secondary"] = "germanynorth"
    assert error_of(data) == "regions/eu.yaml: services.maps: Azure Maps has no account location inside the boundary"


def test_refuses_negative_fleet() -> None:
    data = eu_data()
    data["fleet"]["vehicles"] = -5
    assert error_of(data) == "regions/eu.yaml: fleet.vehicles: Input should be greater than 0 (got -5)"


def test_log_retention_defaults_to_azures_default() -> None:
    assert parse_profile(eu_data(), "regions/eu.yaml").monitoring.log_retention_days == 30


@pytest.mark.parametrize(("days", "limit"), [(29, "greater than or equal to 30"), (731, "less than or equal to 730")])
def test_refuses_log_retention_a_workspace_does_not_take(days: int, limit: str) -> None:
    data = eu_data()
    data["monitoring"] = {"log_retention_days": days}
    assert error_of(data) == f"regions/eu.yaml: monitoring.log_retention_days: Input should be {limit} (got {days})"


def test_refuses_message_above_iot_hub_limit() -> None:
    data = eu_data()
    data["fleet"]["message_kb"] = 300
    assert error_of(data) == (
        "regions/eu.yaml: fleet.message_kb: 300 KB is above IoT Hub's 256 KB message limit (got 300)"
    )


def test_refuses_missing_service_flag() -> None:
    data = eu_data()
    del data["services"]["cosmosdb"]
    assert error_of(data) == "regions/eu.yaml: services.cosmosdb: required key is missing"


def test_refuses_missing_residency_tag() -> None:
    data = eu_data()
    data["tags"] = {}
    assert error_of(data) == (
        "regions/eu.yaml: tags: required tag 'data-residency' is missing (required: data-residency)"
    )


def test_load_profile_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "regions" / "xx.yaml"
    bad.parent.mkdir()
    bad.write_text("name: xx\ncloud: moon\n")
    with pytest.raises(ConfigError) as caught:
        load_profile("xx", root=tmp_path)
    assert str(caught.value) == "regions/xx.yaml: cloud: Input should be 'public' or 'china' (got 'moon')"


def test_load_profile_refuses_a_name_mismatch(tmp_path: Path) -> None:
    (tmp_path / "regions").mkdir()
    (tmp_path / "regions" / "eu2.yaml").write_text((REPO / "regions" / "eu.yaml").read_text())
    with pytest.raises(ConfigError, match=r"^regions/eu2.yaml: name: 'eu' does not match the file name 'eu2'$"):
        load_profile("eu2", root=tmp_path)


def test_load_profile_refuses_broken_yaml(tmp_path: Path) -> None:
    (tmp_path / "regions").mkdir()
    (tmp_path / "regions" / "eu.yaml").write_text("name: [eu\n")
    with pytest.raises(ConfigError, match=r"^regions/eu.yaml: not valid YAML at line 2: "):
        load_profile("eu", root=tmp_path)


def test_unknown_profile_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError) as caught:
        load_profile("apac")
    assert str(caught.value) == f"regions/apac.yaml: no region profile 'apac' (available: {KNOWN})"


@pytest.mark.parametrize("region", available_profiles())
def test_every_region_has_an_azure_stack_and_runs_locally(region: str) -> None:
    """One platform, two targets: a new region profile comes with its azure stack, resolving to it; its local
    stack (optional: the local cluster runs eu, us and cn) resolves to it too, and without one the azure stack
    with ``autocloud:target: local`` does."""
    azure = resolve_stack(f"azure-{region}")
    assert (azure.config.region, azure.config.target) == (region, "azure")
    assert azure.config.azure_location == azure.profile.primary
    has_local = (REPO / "stacks" / f"Pulumi.local-{region}.yaml").is_file()
    local = (
        resolve_stack(f"local-{region}")
        if has_local
        else resolve_stack(f"azure-{region}", overrides={"autocloud:target": "local"})
    )
    assert (local.config.region, local.config.target, local.profile.name) == (region, "local", region)


def test_stack_config_keys_are_declared_in_pulumi_yaml() -> None:
    project = yaml.safe_load((REPO / "Pulumi.yaml").read_text())
    declared = project["config"]
    # Only the required keys: the CLI refuses a stack lacking any declared key that has no default.
    assert set(declared) == {"autocloud:region", "autocloud:target"}
    assert set(declared) <= set(STACK_CONFIG_KEYS)
    text = (REPO / "Pulumi.yaml").read_text()
    assert [key for key in STACK_CONFIG_KEYS if key not in declared and f"#   {key} " not in text] == []
    assert all({"type", "description"} <= set(spec) for spec in declared.values())
    assert project["stackConfigDir"] == "stacks"
    assert project["runtime"] == {"name": "python", "options": {"virtualenv": ".venv"}}


def test_stack_overrides_reach_the_profile() -> None:
    values = {"autocloud:region": "eu", "autocloud:target": "azure", "autocloud:vehicles": "5000000"}
    config = stack_config_from_values(values, "stacks/Pulumi.x.yaml")
    profile = profile_for_stack(config, "stacks/Pulumi.x.yaml")
    assert profile.fleet.vehicles == 5_000_000
    assert profile.fleet.messages_per_vehicle_per_hour == 60


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            {"autocloud:target": "azure"},
            "stacks/Pulumi.x.yaml: autocloud:region: required key is missing",
        ),
        (
            {"autocloud:region": "eu", "autocloud:target": "gcp"},
            "stacks/Pulumi.x.yaml: autocloud:target: Input should be 'azure' or 'local' (got 'gcp')",
        ),
        (
            {"autocloud:region": "eu", "autocloud:target": "azure", "autocloud:vehicles": "-1"},
            "stacks/Pulumi.x.yaml: autocloud:vehicles: Input should be greater than 0 (got '-1')",
        ),
        (
            {"autocloud:region": "eu", "autocloud:target": "azure", "autocloud:namespace": "eu"},
            "stacks/Pulumi.x.yaml: autocloud:namespace: applies to target local only",
        ),
    ],
)
def test_refuses_bad_stack_config(values: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        stack_config_from_values(values, "stacks/Pulumi.x.yaml")
    assert str(caught.value) == message


def test_refuses_unknown_stack_key() -> None:
    with pytest.raises(ConfigError) as caught:
        stack_config_from_values(
            {"autocloud:region": "eu", "autocloud:target": "azure", "autocloud:fleet": "1"}, "stacks/Pulumi.x.yaml"
        )
    assert str(caught.value).startswith(
        "stacks/Pulumi.x.yaml: autocloud:fleet: unknown key (allowed: autocloud:region, autocloud:target,"
    )


def test_refuses_provider_location_other_than_primary() -> None:
    config = stack_config_from_values(
        {"autocloud:region": "eu", "autocloud:target": "azure", "azure-native:location": "East US"}, "s.yaml"
    )
    with pytest.raises(ConfigError) as caught:
        profile_for_stack(config, "s.yaml")
    assert str(caught.value) == (
        "s.yaml: azure-native:location: 'eastus' is not the primary of region 'eu' (expected westeurope)"
    )


def test_refuses_unknown_region_in_stack() -> None:
    config = stack_config_from_values({"autocloud:region": "apac", "autocloud:target": "local"}, "s.yaml")
    with pytest.raises(ConfigError) as caught:
        profile_for_stack(config, "s.yaml")
    assert str(caught.value) == f"s.yaml: autocloud:region: no region profile 'apac' (available: {KNOWN})"


def test_local_namespace_defaults_to_region() -> None:
    config = stack_config_from_values({"autocloud:region": "us", "autocloud:target": "local"}, "s.yaml")
    assert config.local_namespace == "autocloud-us"


def test_missing_stack_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        resolve_stack("nope", root=tmp_path)
    assert str(caught.value) == "stacks/Pulumi.nope.yaml: file not found"


# --- the region catalog: restricted locations, services, zones, IoT data residency ----------------


def test_refuses_restricted_secondary() -> None:
    data = cn_data()
    data["residency"]["secondary"] = "chinaeast3"
    assert error_of(data, "regions/cn.yaml").startswith(
        "regions/cn.yaml: residency.secondary: 'chinaeast3' (China East 3) is access-restricted "
        "(disaster recovery by request only; source: https://learn.microsoft.com/azure/china/overview-regions"
    )


def test_refuses_restricted_primary() -> None:
    data = eu_data()
    data["residency"]["primary"] = "germanynorth"
    assert error_of(data).startswith(
        "regions/eu.yaml: residency.primary: 'germanynorth' (Germany North) is access-restricted"
    )


def test_refuses_a_service_the_primary_does_not_offer(monkeypatch: pytest.MonkeyPatch) -> None:
    west = catalog().locations["westeurope"]
    monkeypatch.setitem(catalog().locations, "westeurope", dataclasses.replace(west, services=west.services - {"dps"}))
    assert error_of(eu_data()).startswith(
        "regions/eu.yaml: services.dps: IoT Hub Device Provisioning Service is not offered in 'westeurope' (source: "
    )


def test_refuses_zone_redundancy_where_a_location_has_no_zones() -> None:
    data = cn_data()
    data["resilience"]["zone_redundant"] = True
    assert error_of(data, "regions/cn.yaml") == (
        "regions/cn.yaml: resilience.zone_redundant: 'chinaeast2' (residency.secondary) has no availability zones; "
        "set zone_redundant: false"
    )


def test_refuses_iot_data_residency_where_azure_does_not_offer_it() -> None:
    data = eu_data()
    data["residency"]["iot_data_residency"] = True
    assert error_of(data) == (
        "regions/eu.yaml: residency.iot_data_residency: IoT Hub data residency is not offered in 'westeurope': only "
        "brazilsouth, southeastasia, whose paired region is in another geography (source: "
        "https://learn.microsoft.com/azure/iot-hub/how-to-disable-dr)"
    )


# --- the network plan ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("service_cidr", "10.10.0.0/16", "10.10.0.0/16 overlaps network.vnet 10.10.0.0/16, which AKS refuses"),
        ("pod_cidr", "10.10.128.0/17", "10.10.128.0/17 overlaps network.vnet 10.10.0.0/16, which AKS refuses"),
        ("pod_cidr", "10.100.0.0/20", "10.100.0.0/20 overlaps network.service_cidr 10.100.0.0/16"),
        ("dns_service_ip", "10.101.0.10", "10.101.0.10 is outside network.service_cidr 10.100.0.0/16"),
        ("dns_service_ip", "10.100.0.1", "10.100.0.1 is reserved in network.service_cidr"),
        ("nodes_subnet", "10.11.16.0/20", "10.11.16.0/20 is not inside network.vnet 10.10.0.0/16"),
        ("nodes_subnet", "10.10.0.0/20", "10.10.0.0/20 overlaps network.endpoints_subnet 10.10.0.0/22"),
    ],
    ids=lambda v: str(v)[:24],
)
def test_refuses_a_network_plan_azure_would_refuse(key: str, value: str, message: str) -> None:
    data = eu_data()
    data["network"][key] = value
    error = error_of(data)
    assert error.startswith(f"regions/eu.yaml: network.{key}: {message}"), error


def test_refuses_a_cidr_that_is_no_cidr() -> None:
    data = eu_data()
    data["network"]["vnet"] = "10.10.0.1/16"
    assert error_of(data).startswith("regions/eu.yaml: network.vnet: Value error, not an IPv4 CIDR block: ")


def test_network_plan_defaults_apart_from_each_other() -> None:
    data = eu_data()
    del data["network"]
    plan = parse_profile(data, "regions/eu.yaml").network
    assert not plan.service_cidr.overlaps(plan.vnet) and not plan.pod_cidr.overlaps(plan.vnet)


# --- device access ----------------------------------------------------------------------------------


def test_refuses_ip_filter_with_private_device_access() -> None:
    data = eu_data()
    data["devices"] = {"access": "private", "ip_filter": ["198.51.100.0/24"]}
    assert error_of(data) == "regions/eu.yaml: devices.ip_filter: applies to access: public only"


def test_refuses_unknown_device_access() -> None:
    data = eu_data()
    data["devices"]["access"] = "vpn"
    assert error_of(data).startswith("regions/eu.yaml: devices.access: Input should be 'public' or 'private'")


# --- stack config for the azure target ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"autocloud:clusterAdmins": ["not-a-guid"]}, "x.yaml: autocloud:clusterAdmins[0]: String should match"),
        ({"autocloud:fleetCaCertificate": "MIIB"}, "x.yaml: autocloud:fleetCaCertificate: String should match"),
        (
            {"autocloud:target": "local", "autocloud:clusterAdmins": ["00000000-0000-0000-0000-000000000001"]},
            "x.yaml: autocloud:clusterAdmins: applies to target azure only",
        ),
    ],
)
def test_refuses_bad_azure_stack_config(values: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        stack_config_from_values({"autocloud:region": "eu", "autocloud:target": "azure"} | values, "x.yaml")
    assert str(caught.value).startswith(message) and "\n" not in str(caught.value)


def test_cluster_admins_and_fleet_ca_from_stack_config() -> None:
    pem = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----\n"
    admins = '["00000000-0000-0000-0000-000000000001"]'
    config = stack_config_from_values(
        {
            "autocloud:region": "eu",
            "autocloud:target": "azure",
            "autocloud:clusterAdmins": admins,
            "autocloud:fleetCaCertificate": pem,
        },
        "x.yaml",
    )
    assert config.cluster_admins == ("00000000-0000-0000-0000-000000000001",)
    assert config.fleet_ca_certificate == pem


def test_policy_relax_is_read_once_as_a_list_or_its_json_text() -> None:
    base = {"autocloud:region": "eu", "autocloud:target": "azure"}
    listed = stack_config_from_values(base | {"autocloud:policyRelax": ["baseline-required-tags"]}, "s.yaml")
    as_env = stack_config_from_values(base | {"autocloud:policyRelax": '["baseline-required-tags"]'}, "s.yaml")
    assert listed.policy_relax == as_env.policy_relax == ("baseline-required-tags",)
    with pytest.raises(ConfigError, match=r"^s\.yaml: autocloud:policyRelax: "):
        stack_config_from_values(base | {"autocloud:policyRelax": {"a": 1}}, "s.yaml")


# --- the profile against its jurisdiction (platform_model/catalog/jurisdictions) ------------------


def test_every_shipped_profile_names_a_deployable_jurisdiction_of_its_cloud() -> None:
    for profile in map(load_profile, available_profiles()):
        found = jurisdictions()[profile.jurisdiction]
        assert found.verdict != "not-deployable" and found.cloud == profile.cloud
        assert set(profile.boundary) <= set(found.locations)


def test_refuses_a_missing_jurisdiction() -> None:
    data = eu_data()
    del data["jurisdiction"]
    assert error_of(data) == "regions/eu.yaml: jurisdiction: required key is missing"


def test_refuses_an_unknown_jurisdiction() -> None:
    data = eu_data() | {"jurisdiction": "atlantis"}
    assert error_of(data).startswith("regions/eu.yaml: jurisdiction: 'atlantis' is not a jurisdiction (known: ")


def test_refuses_a_jurisdiction_azure_cannot_serve() -> None:
    data = eu_data() | {"jurisdiction": "russia"}
    assert error_of(data).startswith(
        "regions/eu.yaml: jurisdiction: russia is not deployable on Azure: Russian vehicle owners' personal data must "
        "be stored in Russia, and Azure has no location in Russia. (source: https://www.globalprivacywatch.com/"
    )


def test_refuses_a_jurisdiction_of_another_cloud() -> None:
    data = eu_data() | {"jurisdiction": "china"}
    assert error_of(data) == "regions/eu.yaml: cloud: china's locations are in Azure China, not 'public'"


def test_refuses_a_boundary_location_outside_the_jurisdiction() -> None:
    data = eu_data()
    data["residency"]["boundary"].append("uksouth")
    assert error_of(data) == (
        "regions/eu.yaml: residency.boundary[6]: 'uksouth' is outside eu-eea (its locations: westeurope, northeurope, "
        "germanywestcentral, germanynorth, francecentral, francesouth, swedencentral, swedensouth, norwayeast, "
        "norwaywest, italynorth, polandcentral, spaincentral; source: https://learn.microsoft.com/azure/reliability/"
        "regions-list)"
    )


def uk_data() -> dict[str, Any]:
    """A UK profile made from the EU one: UK South primary, UK West secondary (no zones there), no Maps."""
    data = eu_data() | {"name": "uk", "jurisdiction": "united-kingdom", "tags": {"data-residency": "uk"}}
    data["residency"] |= {"boundary": ["uksouth", "ukwest"], "primary": "uksouth", "secondary": "ukwest"}
    data["services"]["maps"] = False
    data["resilience"]["zone_redundant"] = False
    return data


def test_a_profile_the_jurisdiction_allows_loads() -> None:
    profile = parse_profile(uk_data(), "regions/uk.yaml")
    assert profile.jurisdiction == "united-kingdom" and profile.boundary == ("uksouth", "ukwest")


def test_refuses_maps_where_its_data_would_leave_the_jurisdiction() -> None:
    data = uk_data()
    data["services"]["maps"] = True
    assert error_of(data, "regions/uk.yaml") == (
        "regions/uk.yaml: services.maps: Azure Maps would take data out of united-kingdom: Azure Maps keeps data "
        "only in its eu and us geographies (eu: westeurope, northeurope; us: eastus, westus2, westcentralus), none in "
        "united-kingdom (source: https://learn.microsoft.com/azure/azure-maps/geographic-scope)"
    )


def brazil_data() -> dict[str, Any]:
    data = uk_data() | {"name": "br", "jurisdiction": "brazil", "tags": {"data-residency": "br"}}
    # Brazil South is Brazil's only open location; Brazil Southeast, the natural secondary, is access-restricted.
    data["residency"] |= {"boundary": ["brazilsouth", "brazilsoutheast"], "primary": "brazilsouth"}
    data["residency"] |= {"secondary": "brazilsoutheast", "iot_data_residency": True}
    return data


def test_refuses_iot_failover_across_the_border_without_data_residency() -> None:
    data = brazil_data()
    data["residency"]["iot_data_residency"] = False
    assert error_of(data, "regions/br.yaml") == (
        "regions/br.yaml: residency.iot_data_residency: IoT Hub and DPS in 'brazilsouth' replicate to its paired "
        "region 'southcentralus', outside brazil (source: "
        "https://learn.microsoft.com/azure/reliability/reliability-iot-hub; "
        "https://learn.microsoft.com/azure/iot-hub/how-to-disable-dr); set iot_data_residency: true"
    )


def test_a_jurisdiction_with_one_open_location_has_no_secondary() -> None:
    """Brazil: no secondary (null) loads, and Cosmos DB keeps its one region; a missing key is still an error."""
    data = brazil_data()
    data["residency"] |= {"boundary": ["brazilsouth"], "secondary": None}
    profile = parse_profile(data, "regions/br.yaml")
    assert (profile.secondary, profile.replica_locations) == (None, ("brazilsouth",))
    del data["residency"]["secondary"]
    assert error_of(data, "regions/br.yaml").startswith("regions/br.yaml: residency.secondary: ")


def test_refuses_a_restricted_location_of_the_jurisdiction_with_its_source() -> None:
    # With data residency on, the Brazil profile gets as far as its restricted secondary.
    assert error_of(brazil_data(), "regions/br.yaml").startswith(
        "regions/br.yaml: residency.secondary: 'brazilsoutheast' (Brazil Southeast) is access-restricted (disaster "
        "recovery by request only; source: https://learn.microsoft.com/azure/reliability/regions-list)"
    )
