"""What a first apply needs, worked out from a region profile and its plan (no Azure call)."""

from __future__ import annotations

import math
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from platform_model.errors import ConfigError
from platform_model.paths import REPO_ROOT
from platform_model.prerequisites import (
    PREREQUISITES_PATH,
    first_apply,
    iothub_quotas,
    load_prerequisites,
    prerequisites,
    providers_for,
    region_access_for,
    roles_for,
    vcpu_quotas,
)
from platform_model.profiles import RegionProfile, available_profiles, load_profile
from platform_model.sizing import IOTHUB_TIERS, CapacityPlan, plan_for_profile

ISSUE_PROVIDERS = {
    "Microsoft.Devices",
    "Microsoft.EventHub",
    "Microsoft.DocumentDB",
    "Microsoft.ContainerService",
    "Microsoft.Maps",
    "Microsoft.Network",
    "Microsoft.Storage",
    "Microsoft.ManagedIdentity",
    "Microsoft.KubernetesConfiguration",
    "Microsoft.ContainerRegistry",
    "Microsoft.OperationalInsights",
    "Microsoft.Insights",
}


def profile_and_plan(region: str, vehicles: int | None = None) -> tuple[RegionProfile, CapacityPlan]:
    profile = load_profile(region)
    if vehicles is not None:
        profile = profile.with_fleet(vehicles=vehicles)
    return profile, plan_for_profile(profile)


def without(profile: RegionProfile, *services: str) -> RegionProfile:
    return profile.model_copy(update={"services": profile.services.model_copy(update=dict.fromkeys(services, False))})


def test_every_provider_the_platform_uses_is_registered_with_its_az_line() -> None:
    profile, _ = profile_and_plan("eu")
    needs = providers_for(profile)
    assert {p.namespace for p in needs} == ISSUE_PROVIDERS
    assert all(p.command == f"az provider register --namespace {p.namespace}" for p in needs)


def test_providers_follow_the_profile_services() -> None:
    china, _ = profile_and_plan("cn")
    assert "Microsoft.Maps" not in {p.namespace for p in providers_for(china)}, "no Azure Maps in Azure China"
    eu, _ = profile_and_plan("eu")
    no_cluster = {p.namespace for p in providers_for(without(eu, "aks"))}
    assert not no_cluster & {"Microsoft.ContainerService", "Microsoft.KubernetesConfiguration"}
    assert "Microsoft.Storage" in no_cluster, "Event Hubs capture still writes to storage"
    bare = {p.namespace for p in providers_for(without(eu, "iothub", "dps", "eventhubs", "aks", "cosmosdb", "maps"))}
    assert bare == {
        "Microsoft.Network",
        "Microsoft.ManagedIdentity",
        "Microsoft.OperationalInsights",
        "Microsoft.Insights",
    }


def test_the_deployer_needs_a_role_that_can_assign_roles() -> None:
    create, assign = roles_for()
    assert "Contributor" in create.any_of
    assert set(assign.any_of) == {"Owner", "User Access Administrator", "Role Based Access Control Administrator"}
    assert "Contributor" not in assign.any_of, "Contributor cannot assign roles in Azure RBAC"


@pytest.mark.parametrize(
    ("region", "vehicles"), [*((region, None) for region in available_profiles()), ("eu", 5_000_000)]
)
def test_vcpus_are_the_cluster_at_full_scale_with_upgrade_surge(region: str, vehicles: int | None) -> None:
    profile, plan = profile_and_plan(region, vehicles)
    family, total = vcpu_quotas(profile, plan)
    aks = plan.aks
    surge = math.ceil(aks.system_nodes / 10) + math.ceil(aks.user_max_nodes / 10)
    expected = (aks.system_nodes + aks.user_max_nodes + surge) * 4  # Standard_D4s_v5: 4 vCPUs
    assert (family.quota, family.location, family.needed) == ("Standard DSv5 Family vCPUs", profile.primary, expected)
    assert (total.quota, total.location, total.needed) == ("Total Regional vCPUs", profile.primary, expected)
    assert family.check == f"az vm list-usage --location {profile.primary} --output table"


def test_a_bigger_fleet_needs_more_vcpus() -> None:
    small = vcpu_quotas(*profile_and_plan("eu", 1_000_000))[0].needed
    large = vcpu_quotas(*profile_and_plan("eu", 8_000_000))[0].needed
    assert large > small


def test_an_unknown_node_size_names_the_catalog_key() -> None:
    profile, plan = profile_and_plan("eu")
    odd = replace(plan, aks=replace(plan.aks, vm_size="Standard_X1"))
    with pytest.raises(ConfigError, match=r"^prerequisites.yaml: quotas.vcpu.vm_sizes: no entry for .*'Standard_X1'"):
        vcpu_quotas(profile, odd)


def test_no_cluster_needs_no_vcpus() -> None:
    profile, plan = profile_and_plan("eu")
    assert vcpu_quotas(without(profile, "aks"), plan) == ()


def test_iothub_counts_hubs_per_subscription_and_units_per_hub() -> None:
    profile, plan = profile_and_plan("us", 8_000_000)
    hubs, units = iothub_quotas(profile, plan)
    assert (hubs.needed, hubs.limit, hubs.location) == (plan.hubs, 50, "subscription")
    assert units.quota == f"IoT Hub {plan.iothub.tier} units per hub"
    assert (units.needed, units.limit) == (plan.iothub.units, IOTHUB_TIERS[plan.iothub.tier].max_units)
    assert f"= {plan.hubs * plan.iothub.units} {plan.iothub.tier} units in all" in units.basis


def test_zone_redundant_cosmos_locations_get_a_region_access_check() -> None:
    us, _ = profile_and_plan("us")
    notes = {n.location: n for n in region_access_for(us)}
    assert set(notes) == {"eastus2", "centralus"}
    assert all("has refused" in n.note for n in notes.values())
    assert notes["eastus2"].check == (
        "az cosmosdb locations show --location eastus2 --query properties.isSubscriptionRegionAccessAllowedForAz"
    )
    eu, _ = profile_and_plan("eu")
    assert [n.location for n in region_access_for(eu)] == ["westeurope", "northeurope"]
    assert not any("has refused" in n.note for n in region_access_for(eu))


def test_no_zone_redundancy_no_region_access_note() -> None:
    cn, _ = profile_and_plan("cn")
    assert not cn.resilience.zone_redundant
    assert region_access_for(cn) == ()
    us, _ = profile_and_plan("us")
    assert region_access_for(without(us, "cosmosdb")) == ()


def test_first_apply_selects_the_cli_cloud() -> None:
    assert first_apply(*profile_and_plan("cn")).az_cloud == "AzureChinaCloud"
    assert first_apply(*profile_and_plan("eu")).az_cloud == "AzureCloud"


def test_every_source_is_a_link() -> None:
    facts = prerequisites()
    urls = [facts.providers.source, facts.providers.register_source, facts.providers.not_registered_by]
    urls += [facts.deployer.create.source, facts.deployer.role_assignments.source, facts.quotas.iothub.source]
    urls += [facts.quotas.vcpu.source, facts.quotas.vcpu.surge_source, facts.az_clouds_source]
    urls += [size.source for size in facts.quotas.vcpu.vm_sizes.values()]
    assert all(url.startswith("https://") for url in urls)


def write(tmp_path: Path, change: object) -> Path:
    data = yaml.safe_load(PREREQUISITES_PATH.read_text())
    change(data)  # type: ignore[operator]
    path = tmp_path / "prerequisites.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_a_namespace_for_an_unknown_service_names_the_key(tmp_path: Path) -> None:
    path = write(tmp_path, lambda d: d["providers"]["namespaces"][0].update({"for": ["teleport"]}))
    with pytest.raises(ConfigError, match=r"^prerequisites.yaml: providers.namespaces.0.for.0: "):
        load_prerequisites(path)


def test_a_namespace_outside_microsoft_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, lambda d: d["providers"]["namespaces"][0].update(namespace="Contoso.Things"))
    with pytest.raises(ConfigError, match=r"^prerequisites.yaml: providers.namespaces.0.namespace: "):
        load_prerequisites(path)


def test_importing_the_floor_reads_no_catalog_file() -> None:
    """Catalogs are read on first use: an audit hook sees every open() during the import."""
    code = (
        "import sys\n"
        "opened = []\n"
        "sys.addaudithook(lambda event, args: opened.append(str(args[0])) if event == 'open' else None)\n"
        "import platform_model.prerequisites, platform_model.locations\n"
        "print([p for p in opened if p.endswith('.yaml')])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"
