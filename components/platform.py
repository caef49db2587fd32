"""RegionalPlatform on Azure: one region profile in, every capability of the region out."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pulumi
import pulumi_azure_native as azure_native

from autocloud.locations import find_location
from components.compute import ComputeCluster, ComputeClusterArgs
from components.contracts import PlatformEndpoints, RegionalPlatformArgs
from components.maps import MapsService, MapsServiceArgs
from components.network import PrivateNetwork, PrivateNetworkArgs
from components.placement import AzurePlacement, eventhub_namespace_name, storage_account_name
from components.state import VehicleStateStore, VehicleStateStoreArgs
from components.streaming import EventStreaming, EventStreamingArgs
from components.telemetry import (
    DeviceAccess,
    DeviceProvisioning,
    DeviceProvisioningArgs,
    EventHubsRoute,
    LinkedHub,
    TelemetryIngest,
    TelemetryIngestArgs,
)


class RegionalPlatform(pulumi.ComponentResource):
    """A region built from scale units, private and tagged throughout.

    Each scale unit (``plan.scale_units`` of them) gets its own IoT Hub routed to its own Event
    Hubs namespace; one DPS links every hub; Cosmos DB, AKS and Maps serve the whole region. Every
    resource's location is a plain string from the profile. In Azure China, pass the China provider
    in ``opts`` (``providers=[...]``): children inherit it through ``parent``.
    """

    name: pulumi.Output[str]
    resource_id: pulumi.Output[str]
    location: str
    region: str
    scale_units: int
    telemetry: list[TelemetryIngest]
    streaming: list[EventStreaming]
    provisioning: DeviceProvisioning | None
    compute: ComputeCluster | None
    state: VehicleStateStore | None
    maps: MapsService | None
    endpoints: pulumi.Output[PlatformEndpoints]

    def __init__(self, name: str, args: RegionalPlatformArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("autocloud:platform:RegionalPlatform", name, None, opts)
        profile, plan, services = args.profile, args.plan, args.profile.services
        self.location = profile.primary
        self.region = profile.name
        self.scale_units = plan.scale_units
        tags = args.tags

        group = azure_native.resources.ResourceGroup(
            f"{name}-rg", location=profile.primary, tags=tags, opts=pulumi.ResourceOptions(parent=self)
        )
        base = AzurePlacement(resource_group_name=group.name, location=profile.primary, cloud=profile.cloud, tags=tags)
        zone_keys: list[str] = []
        if services.iothub or services.eventhubs:
            zone_keys.append("servicebus")
        if services.iothub:
            zone_keys.append("iothub")
        if services.dps:
            zone_keys.append("dps")
        if services.eventhubs:
            zone_keys.append("blob")
        if services.cosmosdb:
            zone_keys.append("cosmos")
        plan_net = profile.network
        network = PrivateNetwork(
            f"{name}-network",
            PrivateNetworkArgs(
                placement=base,
                zone_keys=zone_keys,
                address_space=str(plan_net.vnet),
                endpoint_prefix=str(plan_net.endpoints_subnet),
                node_prefix=str(plan_net.nodes_subnet),
            ),
            pulumi.ResourceOptions(parent=self),
        )
        primary = find_location(profile.primary)
        devices = DeviceAccess(
            public=profile.devices.access == "public", ip_filter=tuple(str(c) for c in profile.devices.ip_filter)
        )
        placement = replace(
            base,
            private_endpoint_subnet_id=network.private_endpoint_subnet_id,
            private_dns_zone_ids=network.dns_zone_ids,
        )

        self.streaming = []
        self.telemetry = []
        for unit in range(1, plan.scale_units + 1):
            route = None
            if services.eventhubs:
                stream = EventStreaming(
                    f"{name}-streaming-{unit}",
                    EventStreamingArgs(
                        placement=placement,
                        sku=plan.eventhubs,
                        capture_account_name=storage_account_name(profile.name, "capture", unit),
                        namespace_name=eventhub_namespace_name(profile.name, unit),
                        allowed_subnet_id=network.node_subnet_id,
                    ),
                    pulumi.ResourceOptions(parent=self),
                )
                self.streaming.append(stream)
                route = EventHubsRoute(
                    namespace_id=stream.resource_id,
                    endpoint_uri=stream.endpoint_uri,
                    telemetry_hub=stream.telemetry_hub,
                    events_hub=stream.events_hub,
                )
            if services.iothub:
                self.telemetry.append(
                    TelemetryIngest(
                        f"{name}-telemetry-{unit}",
                        TelemetryIngestArgs(
                            placement=placement,
                            sku=plan.iothub,
                            data_residency=profile.residency.iot_data_residency,
                            min_tls=bool(primary and primary.iothub_min_tls),
                            devices=devices,
                            route=route,
                        ),
                        pulumi.ResourceOptions(parent=self),
                    )
                )

        self.provisioning = None
        if services.dps and self.telemetry:
            self.provisioning = DeviceProvisioning(
                f"{name}-provisioning",
                DeviceProvisioningArgs(
                    placement=placement,
                    hubs=[LinkedHub(name=hub.name, location=hub.location) for hub in self.telemetry],
                    units=plan.dps_units,
                    data_residency=profile.residency.iot_data_residency,
                    devices=devices,
                    ca_certificate=args.fleet_ca_certificate,
                ),
                pulumi.ResourceOptions(parent=self),
            )

        self.compute = None
        if services.aks:
            self.compute = ComputeCluster(
                f"{name}-compute",
                ComputeClusterArgs(
                    placement=placement,
                    sku=plan.aks,
                    dns_prefix=f"autocloud-{profile.name}",
                    zones=bool(primary and primary.zones),
                    service_cidr=str(plan_net.service_cidr),
                    dns_service_ip=str(plan_net.dns_service_ip),
                    pod_cidr=str(plan_net.pod_cidr),
                    node_subnet_id=network.node_subnet_id,
                    cluster_admins=args.cluster_admins,
                ),
                pulumi.ResourceOptions(parent=self),
            )

        self.state = None
        if services.cosmosdb:
            self.state = VehicleStateStore(
                f"{name}-state",
                VehicleStateStoreArgs(
                    placement=placement,
                    secondary=profile.secondary,
                    sku=plan.cosmos,
                    zone_redundant=profile.resilience.zone_redundant,
                ),
                pulumi.ResourceOptions(parent=self),
            )

        self.maps = None
        maps_location = profile.maps_location
        if services.maps and maps_location is not None:
            self.maps = MapsService(
                f"{name}-maps",
                MapsServiceArgs(placement=replace(placement, location=maps_location)),
                pulumi.ResourceOptions(parent=self),
            )

        self.name = group.name
        self.resource_id = group.id
        self.endpoints = _collect_endpoints(self)
        self.register_outputs(
            {
                "name": self.name,
                "resource_id": self.resource_id,
                "location": self.location,
                "region": self.region,
                "scale_units": self.scale_units,
                "endpoints": self.endpoints,
            }
        )


def _collect_endpoints(platform: RegionalPlatform) -> pulumi.Output[PlatformEndpoints]:
    """One output holding every endpoint of the region, None for a capability it does not deploy."""

    def endpoints_of(component: Any) -> pulumi.Output[Any]:
        return pulumi.Output.from_input(component.endpoints if component is not None else None)

    def combine(values: dict[str, Any]) -> PlatformEndpoints:
        return PlatformEndpoints(
            telemetry=list(values["telemetry"]),
            provisioning=values["provisioning"],
            streaming=list(values["streaming"]),
            compute=values["compute"],
            state=values["state"],
            maps=values["maps"],
        )

    return pulumi.Output.all(
        telemetry=pulumi.Output.all(*[t.endpoints for t in platform.telemetry]),
        streaming=pulumi.Output.all(*[s.endpoints for s in platform.streaming]),
        provisioning=endpoints_of(platform.provisioning),
        compute=endpoints_of(platform.compute),
        state=endpoints_of(platform.state),
        maps=endpoints_of(platform.maps),
    ).apply(combine)
