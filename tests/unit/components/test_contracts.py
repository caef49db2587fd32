"""Contract table, one row per component so a new one cannot skip a check: every component x every
region keeps its locations in the boundary, tags what it places, and exposes name, resource_id,
location and endpoints.

A new component adds a row to COMPONENTS.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pulumi
import pytest

from components.compute import ComputeCluster, ComputeClusterArgs
from components.contracts import RegionalPlatformArgs, region_tags
from components.maps import MapsService, MapsServiceArgs
from components.monitoring import RegionalMonitoring, RegionalMonitoringArgs
from components.network import PrivateNetwork, PrivateNetworkArgs
from components.placement import AzurePlacement
from components.platform import RegionalPlatform
from components.registry import ContainerRegistry, ContainerRegistryArgs
from components.state import VehicleStateStore, VehicleStateStoreArgs
from components.streaming import EventStreaming, EventStreamingArgs
from components.telemetry import (
    DeviceProvisioning,
    DeviceProvisioningArgs,
    LinkedHub,
    TelemetryIngest,
    TelemetryIngestArgs,
)
from platform_model.profiles import RegionProfile, available_profiles, load_profile
from platform_model.sizing import CapacityPlan, plan_for_profile
from platform_model.vocabulary import REQUIRED_TAGS
from tests.conftest import PulumiHarness, Recorded

GLOBAL_TYPES = {"azure-native:privatedns:PrivateZone", "azure-native:privatedns:VirtualNetworkLink"}
REGIONS = available_profiles()

Builder = Callable[[RegionProfile, CapacityPlan, AzurePlacement], Any]


def _maps(profile: RegionProfile, plan: CapacityPlan, placement: AzurePlacement) -> Any:
    location = profile.maps_location
    assert location is not None
    return MapsService("maps", MapsServiceArgs(AzurePlacement("rg", location, profile.cloud, placement.tags)))


def _platform(profile: RegionProfile, plan: CapacityPlan, placement: AzurePlacement) -> Any:
    opts = None
    if profile.cloud == "china":
        provider = pulumi.ProviderResource("azure-native", "china", {"environment": "china"})
        opts = pulumi.ResourceOptions(providers=[provider])
    return RegionalPlatform(profile.name, RegionalPlatformArgs(profile, plan), opts)


COMPONENTS: dict[str, Builder] = {
    "TelemetryIngest": lambda p, plan, pl: TelemetryIngest(
        "ingest", TelemetryIngestArgs(pl, plan.iothub, p.residency.iot_data_residency, min_tls=p.cloud == "public")
    ),
    "DeviceProvisioning": lambda p, plan, pl: DeviceProvisioning(
        "dps", DeviceProvisioningArgs(pl, [LinkedHub("hub-1", p.primary, "a2V5")], plan.dps_units, True)
    ),
    "EventStreaming": lambda p, plan, pl: EventStreaming(
        "stream", EventStreamingArgs(pl, plan.eventhubs, f"ac{p.name}capture1")
    ),
    "ComputeCluster": lambda p, plan, pl: ComputeCluster(
        "compute",
        ComputeClusterArgs(
            pl,
            plan.aks,
            f"autocloud-{p.name}",
            zones=True,
            service_cidr=str(p.network.service_cidr),
            dns_service_ip=str(p.network.dns_service_ip),
            pod_cidr=str(p.network.pod_cidr),
        ),
    ),
    "VehicleStateStore": lambda p, plan, pl: VehicleStateStore(
        "state", VehicleStateStoreArgs(pl, p.secondary, plan.cosmos)
    ),
    "MapsService": _maps,
    "ContainerRegistry": lambda p, plan, pl: ContainerRegistry(
        "registry", ContainerRegistryArgs(pl, f"ac{p.name}images1")
    ),
    "PrivateNetwork": lambda p, plan, pl: PrivateNetwork(
        "network", PrivateNetworkArgs(pl, ["iothub", "dps", "servicebus", "blob", "cosmos"])
    ),
    "RegionalPlatform": _platform,
    "RegionalMonitoring": lambda p, plan, pl: RegionalMonitoring(
        "monitoring", RegionalMonitoringArgs(pl, p.monitoring)
    ),
}


def _tag_problems(resource: Recorded, profile: RegionProfile) -> list[str]:
    tags = resource.inputs.get("tags") or {}
    missing = [key for key in REQUIRED_TAGS if key not in tags]
    if missing:
        return [f"{resource.type} {resource.name} lacks tags {missing}"]
    if tags["region"] != profile.name or tags["data-residency"] != profile.tags["data-residency"]:
        return [f"{resource.type} {resource.name} carries another region's tags {tags}"]
    return []


# Maps only where the profile offers it; its absence in China is asserted in test_program.
CASES = [
    (component, region)
    for component in sorted(COMPONENTS)
    for region in REGIONS
    if component != "MapsService" or load_profile(region).services.maps
]


@pytest.mark.parametrize(("component", "region"), CASES)
def test_component_contract(pulumi_harness: PulumiHarness, component: str, region: str) -> None:
    profile = load_profile(region)
    plan = plan_for_profile(profile)
    mocks = pulumi_harness.start(f"azure-{region}")
    placement = AzurePlacement("rg", profile.primary, profile.cloud, region_tags(profile))
    built = pulumi_harness.run(lambda: COMPONENTS[component](profile, plan, placement))

    located = [r for r in mocks.azure() if "location" in r.inputs]
    assert located, "a component places at least one resource"
    for resource in located:
        location = resource.inputs["location"]
        if resource.type in GLOBAL_TYPES:
            assert location == "global", resource.name
        else:
            assert location in profile.boundary, f"{resource.type} {resource.name} in {location}"
    assert [problem for r in located for problem in _tag_problems(r, profile)] == []

    assert isinstance(built.location, str) and built.location in profile.boundary
    assert pulumi_harness.value(built.name)
    assert pulumi_harness.value(built.resource_id).startswith("/subscriptions/")
    if component not in ("PrivateNetwork", "RegionalMonitoring"):  # neither serves an endpoint
        assert pulumi_harness.value(built.endpoints)
