"""Telemetry ingest on Azure: one IoT Hub per scale unit, one DPS spreading vehicles over them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_azure_native as azure_native

from autocloud.sizing import IotHubPlan
from components.contracts import ProvisioningEndpoints, TelemetryEndpoints
from components.placement import EVENT_HUBS_DATA_SENDER, AzurePlacement, grant_role, private_endpoint

DPS_LINK_POLICY = "dps-link"
"""The hub's only shared-access policy: DPS registers devices through it (no iothubowner)."""
DPS_LINK_RIGHTS = azure_native.iothub.AccessRights.REGISTRY_READ_REGISTRY_WRITE_SERVICE_CONNECT_DEVICE_CONNECT
MQTT_PORT = 8883


@dataclass(frozen=True)
class EventHubsRoute:
    """Where a hub routes messages: an Event Hubs namespace of the same scale unit."""

    namespace_id: pulumi.Input[str]
    """Required. Namespace resource id (the routing identity gets Data Sender on it)."""
    endpoint_uri: pulumi.Input[str]
    """Required. ``sb://<namespace>.servicebus.windows.net`` (Azure China: ``.chinacloudapi.cn``)."""
    telemetry_hub: str
    """Required. Event hub receiving device messages."""
    events_hub: str
    """Required. Event hub receiving lifecycle and connection-state events."""


@dataclass(frozen=True)
class TelemetryIngestArgs:
    """One scale unit's IoT Hub."""

    placement: AzurePlacement
    """Required. Resource group, location (the profile's primary), cloud, tags, private endpoint."""
    sku: IotHubPlan
    """Required. Tier, units and partitions from ``autocloud.sizing``."""
    data_residency: bool
    """Required. IoT Hub ``enableDataResidency`` from the profile (no cross-geo DR pairing)."""
    route: EventHubsRoute | None = None
    """Optional, default None: only the fallback route to the built-in endpoint."""


class TelemetryIngest(pulumi.ComponentResource):
    """An IoT Hub: private, Entra-only for services, routing device messages to Event Hubs.

    Routing authenticates with a user-assigned identity that is granted Data Sender *before* the
    hub exists; a system-assigned identity alone could not be granted in time for the hub's own
    endpoint validation. The system-assigned identity stays on for other integrations.
    """

    name: pulumi.Output[str]
    resource_id: pulumi.Output[str]
    location: str
    hostname: pulumi.Output[str]
    endpoints: pulumi.Output[TelemetryEndpoints]

    def __init__(self, name: str, args: TelemetryIngestArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("autocloud:telemetry:TelemetryIngest", name, None, opts)
        placement = args.placement
        self.location = placement.location
        child = pulumi.ResourceOptions(parent=self)

        identities: list[pulumi.Input[str]] = []
        routing: azure_native.iothub.RoutingPropertiesArgsDict = {
            "fallback_route": {
                "name": "$fallback",
                "source": "DeviceMessages",
                "condition": "true",
                "endpoint_names": ["events"],
                "is_enabled": True,
            },
        }
        depends_on: list[pulumi.Resource] = []
        if args.route is not None:
            identity = azure_native.managedidentity.UserAssignedIdentity(
                f"{name}-routing",
                resource_group_name=placement.resource_group_name,
                location=placement.location,
                tags=dict(placement.tags),
                opts=child,
            )
            namespace_id = pulumi.Output.from_input(args.route.namespace_id)
            depends_on.append(
                grant_role(f"{name}-sender", self, namespace_id, identity.principal_id, EVENT_HUBS_DATA_SENDER)
            )
            identities.append(identity.id)
            routing = routing | _routes(args.route, placement, identity.id)

        hub = azure_native.iothub.IotHubResource(
            f"{name}-iothub",
            resource_group_name=placement.resource_group_name,
            location=placement.location,
            sku={"name": args.sku.tier, "capacity": args.sku.units},
            identity={
                "type": azure_native.iothub.ResourceIdentityType.SYSTEM_ASSIGNED_USER_ASSIGNED
                if identities
                else azure_native.iothub.ResourceIdentityType.SYSTEM_ASSIGNED,
                "user_assigned_identities": identities,
            },
            properties={
                "min_tls_version": "1.2",
                "disable_local_auth": True,
                "disable_module_sas": True,
                "public_network_access": "Disabled",
                "enable_data_residency": args.data_residency,
                "event_hub_endpoints": {
                    "events": {"partition_count": args.sku.partitions, "retention_time_in_days": 1},
                },
                "authorization_policies": [
                    {
                        "key_name": DPS_LINK_POLICY,
                        "rights": DPS_LINK_RIGHTS,
                    }
                ],
                "routing": routing,
            },
            tags=dict(placement.tags),
            opts=pulumi.ResourceOptions(parent=self, depends_on=depends_on),
        )
        private_endpoint(f"{name}-pe", self, placement, hub.id, "iotHub", ("iothub", "servicebus"))

        self.name = hub.name
        self.resource_id = hub.id
        self.resource_group_name = pulumi.Output.from_input(placement.resource_group_name)
        suffix = placement.dns.iothub
        self.hostname = hub.name.apply(lambda n: f"{n}.{suffix}")
        self.endpoints = self.hostname.apply(lambda host: TelemetryEndpoints(mqtt=f"{host}:{MQTT_PORT}", hostname=host))
        self.register_outputs(
            {
                "name": self.name,
                "resource_id": self.resource_id,
                "location": self.location,
                "hostname": self.hostname,
                "endpoints": self.endpoints,
            }
        )


def _routes(
    route: EventHubsRoute, placement: AzurePlacement, identity_id: pulumi.Output[str]
) -> azure_native.iothub.RoutingPropertiesArgsDict:
    """Custom endpoints and routes: device messages to telemetry, lifecycle/connection state to events."""

    def endpoint(name: str, entity: str) -> azure_native.iothub.RoutingEventHubPropertiesArgsDict:
        return {
            "name": name,
            "entity_path": entity,
            "authentication_type": "identityBased",
            "identity": {"user_assigned_identity": identity_id},
            "endpoint_uri": route.endpoint_uri,
            "resource_group": placement.resource_group_name,
        }

    return {
        "endpoints": {
            "event_hubs": [endpoint("telemetry", route.telemetry_hub), endpoint("vehicle-events", route.events_hub)]
        },
        "routes": [
            {
                "name": "telemetry",
                "source": "DeviceMessages",
                "condition": "true",
                "endpoint_names": ["telemetry"],
                "is_enabled": True,
            },
            {
                "name": "lifecycle",
                "source": "DeviceLifecycleEvents",
                "condition": "true",
                "endpoint_names": ["vehicle-events"],
                "is_enabled": True,
            },
            {
                "name": "connection-state",
                "source": "DeviceConnectionStateEvents",
                "condition": "true",
                "endpoint_names": ["vehicle-events"],
                "is_enabled": True,
            },
        ],
    }


@dataclass(frozen=True)
class LinkedHub:
    """A hub DPS may assign vehicles to."""

    name: pulumi.Input[str]
    """Required. IoT Hub name."""
    location: str
    """Required. The hub's location (plain string, inside the boundary)."""


@dataclass(frozen=True)
class DeviceProvisioningArgs:
    """The region's Device Provisioning Service."""

    placement: AzurePlacement
    """Required. Resource group, location (the profile's primary), cloud, tags, private endpoint."""
    hubs: Sequence[LinkedHub]
    """Required. Every hub of the region; DPS spreads vehicles across them (hashed allocation)."""
    units: int
    """Required. DPS service units from ``autocloud.sizing`` (1 M registrations each)."""
    data_residency: bool
    """Required. DPS ``enableDataResidency`` from the profile."""


class DeviceProvisioning(pulumi.ComponentResource):
    """DPS linked to all of the region's hubs. The hubs' link keys are Pulumi secrets end to end."""

    name: pulumi.Output[str]
    resource_id: pulumi.Output[str]
    location: str
    endpoints: pulumi.Output[ProvisioningEndpoints]

    def __init__(self, name: str, args: DeviceProvisioningArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("autocloud:telemetry:DeviceProvisioning", name, None, opts)
        placement = args.placement
        self.location = placement.location
        suffix = placement.dns.iothub

        linked: list[azure_native.deviceprovisioningservices.IotHubDefinitionDescriptionArgsDict] = [
            {
                "connection_string": self._connection_string(hub, placement, suffix),
                "location": hub.location,
                "apply_allocation_policy": True,
                "allocation_weight": 1,
            }
            for hub in args.hubs
        ]
        dps = azure_native.deviceprovisioningservices.IotDpsResource(
            f"{name}-dps",
            resource_group_name=placement.resource_group_name,
            location=placement.location,
            sku={"name": "S1", "capacity": args.units},
            properties={
                "allocation_policy": "Hashed",
                "iot_hubs": linked,
                "public_network_access": "Disabled",
                "enable_data_residency": args.data_residency,
            },
            tags=dict(placement.tags),
            opts=pulumi.ResourceOptions(parent=self),
        )
        private_endpoint(f"{name}-pe", self, placement, dps.id, "iotDps", ("dps",))

        self.name = dps.name
        self.resource_id = dps.id
        global_endpoint = f"global.{placement.dns.dps}"
        # The secret hub links make the whole ``properties`` output secret; the id scope is not.
        id_scope = pulumi.Output.unsecret(dps.properties.apply(lambda p: p.id_scope or ""))
        self.endpoints = id_scope.apply(
            lambda scope: ProvisioningEndpoints(global_endpoint=global_endpoint, id_scope=scope)
        )
        self.register_outputs(
            {
                "name": self.name,
                "resource_id": self.resource_id,
                "location": self.location,
                "endpoints": self.endpoints,
            }
        )

    def _connection_string(self, hub: LinkedHub, placement: AzurePlacement, suffix: str) -> pulumi.Output[str]:
        keys = azure_native.iothub.list_iot_hub_resource_keys_for_key_name_output(
            key_name=DPS_LINK_POLICY,
            resource_group_name=placement.resource_group_name,
            resource_name=hub.name,
            opts=pulumi.InvokeOutputOptions(parent=self),
        )
        return pulumi.Output.secret(
            pulumi.Output.all(hub.name, keys.primary_key).apply(
                lambda v: f"HostName={v[0]}.{suffix};SharedAccessKeyName={DPS_LINK_POLICY};SharedAccessKey={v[1]}"
            )
        )
