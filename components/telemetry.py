"""Telemetry ingest on Azure: one IoT Hub per scale unit, one DPS spreading vehicles over them."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import pulumi
import pulumi_azure_native as azure_native

from components.contracts import FLEET_CA_NAME, ProvisioningEndpoints, TelemetryEndpoints, brand_fleet_ca_name
from components.placement import EVENT_HUBS_DATA_SENDER, AzurePlacement, grant_role
from components.private_link import private_endpoint
from components.stack_secret import StackSecret
from platform_model.locations import dps_private_endpoints
from platform_model.sizing import IotHubPlan

DPS_LINK_POLICY = "dps-link"
"""The hub's only shared-access policy: DPS registers devices through it (no iothubowner)."""
DPS_LINK_RIGHTS = azure_native.iothub.AccessRights.REGISTRY_WRITE_SERVICE_CONNECT
"""What DPS needs on a linked hub, and no more: "DPS needs the following permissions on the IoT hub:
RegistryWrite and ServiceConnect" (https://learn.microsoft.com/azure/iot-dps/how-to-manage-linked-iot-hubs).

Why a shared-access link and not an identity: the SDK's DPS resource (API 2023-03-01-preview) has only
``connectionString`` on a linked hub; identity-based linking exists only in a later preview API of DPS,
not generated into pulumi-azure-native 3.29, and a preview API is no base for production. The same page
says the linked hub must allow shared access policies, so hubs keep ``disableLocalAuth: false`` and turn
off what vehicles could use instead: device and module SAS (X.509 only)."""
MQTT_PORT = 8883
ALL_ADDRESSES = "0.0.0.0/0"
FALLBACK_ROUTE: azure_native.iothub.FallbackRoutePropertiesArgsDict = {
    "name": "$fallback",
    "source": "DeviceMessages",
    "condition": "true",
    "endpoint_names": ["events"],
    "is_enabled": True,
}
"""Messages no route matches go to the hub's built-in ``events`` endpoint."""


@dataclass(frozen=True)
class DpsLinkKeys:
    """The two keys of one hub's ``dps-link`` policy, both Pulumi secrets; DPS links with the primary."""

    primary: pulumi.Output[str]
    """Required. Base64 of 32 bytes; in DPS's connection string for this hub."""
    secondary: pulumi.Output[str]
    """Required. Base64 of 32 bytes; set so that the service keeps no key of its own choosing."""


def dps_link_secret(name: str, parent: pulumi.Resource) -> pulumi.Output[str]:
    """The stack's DPS link secret, made by the first apply and then read from the stack's state.

    Why the stack owns the hubs' link keys instead of reading them back: reading them is the POST action
    ``Microsoft.Devices/iotHubs/listkeys/Action`` ("Gets all IotHub Keys",
    https://learn.microsoft.com/azure/role-based-access-control/permissions/internet-of-things), and the
    Reader role that previews run as holds only ``*/read``
    (https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/general#reader), so every
    preview of an applied stack failed with AuthorizationFailed. The keys are writable instead: in the
    IoT Hub REST API (2023-06-30, the version pulumi-azure-native 3.29 uses) a
    ``SharedAccessSignatureAuthorizationRule`` has ``primaryKey`` and ``secondaryKey`` as plain
    strings, neither read-only, with only ``keyName`` and ``rights`` required
    (https://github.com/Azure/azure-rest-api-specs/blob/main/specification/iothub/resource-manager/Microsoft.Devices/stable/2023-06-30/iothub.json),
    and Azure's own ``Add-AzIotHubKey`` takes both keys from the caller
    (https://learn.microsoft.com/powershell/module/az.iothub/add-aziothubkey). A preview then calls
    nothing: the secret is in the state (encrypted by the stack's secrets provider, so every engineer
    and CI holding that provider read the same one), the keys derive from it offline, and the hub's
    PUT carries the keys DPS holds on every run.

    To rotate every link key, replace this resource (``pulumi up --replace <urn of ...-dps-link>``): hubs
    and DPS update in one run.
    """
    return pulumi.Output.secret(StackSecret(name, pulumi.ResourceOptions(parent=parent)).value)


def derive_link_key(secret: str, hub: str, slot: str) -> str:
    """HMAC-SHA256 of ``<hub>/<slot>`` under the stack's secret, base64: 32 bytes as Azure's own keys
    have, and base64 because IoT Hub signs with the key decoded from base64
    (https://learn.microsoft.com/azure/iot-hub/authenticate-authorize-sas, "Security token structure").
    Each hub and slot gets its own key, and none reveals the secret or another key."""
    digest = hmac.new(secret.encode(), f"{hub}/{slot}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def dps_link_keys(secret: pulumi.Input[str], hub: str) -> DpsLinkKeys:
    """The link keys of the hub labelled ``hub`` (a label fixed in the program, known at preview)."""
    value = pulumi.Output.secret(secret)
    return DpsLinkKeys(
        primary=value.apply(lambda s: derive_link_key(s, hub, "primary")),
        secondary=value.apply(lambda s: derive_link_key(s, hub, "secondary")),
    )


def dps_link_policy(keys: DpsLinkKeys | None) -> azure_native.iothub.SharedAccessSignatureAuthorizationRuleArgsDict:
    """The hub's one shared-access policy: ``dps-link`` with ``DPS_LINK_RIGHTS``, with the stack's keys
    when it has them (a hub no DPS links leaves them to Azure)."""
    policy: azure_native.iothub.SharedAccessSignatureAuthorizationRuleArgsDict = {
        "key_name": DPS_LINK_POLICY,
        "rights": DPS_LINK_RIGHTS,
    }
    if keys is not None:
        policy["primary_key"] = keys.primary
        policy["secondary_key"] = keys.secondary
    return policy


@dataclass(frozen=True)
class DeviceAccess:
    """How vehicles reach a device-facing endpoint (from the profile's ``devices`` section)."""

    public: bool = True
    """Optional, default True: reachable from the internet (vehicles are on mobile networks)."""
    ip_filter: Sequence[str] = ()
    """Optional, default none: CIDRs allowed in; every other address is rejected."""


def _ip_filter(access: DeviceAccess) -> list[tuple[str, str, str]]:
    """(name, action, CIDR): accept each allowed CIDR, then reject everything else (rules apply in order,
    first match wins: https://learn.microsoft.com/azure/iot-hub/iot-hub-ip-filtering)."""
    if not access.ip_filter:
        return []
    rules = [(f"allow-{i}", "Accept", cidr) for i, cidr in enumerate(access.ip_filter)]
    return [*rules, ("reject-others", "Reject", ALL_ADDRESSES)]


def hub_ip_filter_rules(access: DeviceAccess) -> list[azure_native.iothub.IpFilterRuleArgsDict]:
    return [
        {"filter_name": name, "action": azure_native.iothub.IpFilterActionType(action), "ip_mask": cidr}
        for name, action, cidr in _ip_filter(access)
    ]


def dps_ip_filter_rules(access: DeviceAccess) -> list[azure_native.deviceprovisioningservices.IpFilterRuleArgsDict]:
    return [
        {
            "filter_name": name,
            "action": azure_native.deviceprovisioningservices.IpFilterActionType(action),
            "ip_mask": cidr,
            "target": azure_native.deviceprovisioningservices.IpFilterTargetType.ALL,
        }
        for name, action, cidr in _ip_filter(access)
    ]


def public_network_access(access: DeviceAccess) -> str:
    return "Enabled" if access.public else "Disabled"


RoutingPhase = Literal["staged", "live"]
"""How far a hub's routing into its unit's Event Hubs namespace is built.

The namespace denies every network but the node subnet and lets trusted Microsoft services through.
IoT Hub passes that firewall only as its system-assigned identity: "Use a system-assigned managed
identity to access private resources"
(https://learn.microsoft.com/azure/iot-hub/iot-hub-managed-identity, "Egress connectivity from IoT Hub
to other Azure resources"); "To allow other services to find your IoT hub as a trusted Microsoft
service, it must have a system-assigned managed identity"
(https://learn.microsoft.com/azure/iot-hub/virtual-network-support); and Event Hubs lists IoT Hub as a
trusted service once its system-assigned identity holds Azure Event Hubs Data Sender on the namespace
and the custom endpoint uses identity-based authentication
(https://learn.microsoft.com/azure/event-hubs/network-security, "Trusted Microsoft services").
That identity exists only once the hub does, and the grant must come first: "You need to complete
above steps to assign the managed identity the right access before adding the event hub as a custom
endpoint in IoT Hub. Please wait a few minutes for the role assignment to propagate"
(iot-hub-managed-identity, "Configure message routing with managed identities"). Pulumi changes a
resource once per run, so a new hub takes two applies:

- ``staged``: the hub with its system-assigned identity and the fallback route only, and that identity
  granted Data Sender on the unit's namespace;
- ``live``: the two identity-based endpoints and the routes into them; the grant stays as it is.

Which hubs are staged is decided in one place, ``autocloud.operations.routing``."""

HUB_PART = "iothub"
SENDER_PART = "trusted-sender"


def hub_resource_name(component: str) -> str:
    """Logical name of a TelemetryIngest's IoT Hub (what the phase decision looks for in a stack's state)."""
    return f"{component}-{HUB_PART}"


def sender_grant_name(component: str) -> str:
    """Logical name of the Data Sender grant to a TelemetryIngest's system-assigned identity."""
    return f"{component}-{SENDER_PART}"


def device_prefix_condition(prefix: str) -> str:
    """The routing condition selecting the devices whose id starts with ``prefix`` (a brand's vehicles).

    IoT Hub stamps each device-to-cloud message with the sending device's id, the system property
    ``iothub-connection-device-id``, which a routing query names ``$connectionDeviceId``
    (https://learn.microsoft.com/azure/iot-hub/iot-hub-devguide-routing-query-syntax, "System properties";
    the device cannot set it, the hub does). "In routes conditions, the following string functions are
    supported: ... STARTS_WITH(x, y) Returns a Boolean indicating whether the first string expression starts
    with the second" (https://learn.microsoft.com/azure/iot-hub/iot-hub-devguide-query-language, "Functions").
    A brand's prefix is lowercase letters, digits and hyphens (``platform_model.brands.BRAND_NAME``), so it
    needs no escaping inside the quoted literal."""
    if not prefix or not all(c.isascii() and (c.islower() or c.isdigit() or c == "-") for c in prefix):
        raise ValueError(f"device id prefix {prefix!r} must be lowercase letters, digits and hyphens")
    return f"STARTS_WITH($connectionDeviceId, '{prefix}')"


@dataclass(frozen=True)
class BrandRoute:
    """Where one brand's device messages go: its own event hub."""

    hub: str
    """Required. The brand's event hub (``telemetry-<brand>``); also the endpoint's and the route's name."""
    vehicle_prefix: str
    """Required. What the brand's device ids start with (``<brand>-``)."""


@dataclass(frozen=True)
class EventHubsRoute:
    """Where a hub routes messages: an Event Hubs namespace of the same scale unit."""

    namespace_id: pulumi.Input[str]
    """Required. Namespace resource id: the hub's system-assigned identity gets Data Sender on it."""
    endpoint_uri: pulumi.Input[str]
    """Required. ``sb://<namespace>.servicebus.windows.net`` (Azure China: ``.chinacloudapi.cn``)."""
    telemetry_hub: str
    """Required. Event hub receiving device messages."""
    events_hub: str
    """Required. Event hub receiving lifecycle and connection-state events."""
    brands: Sequence[BrandRoute] = ()
    """Optional, default none: every device message to ``telemetry_hub``. With brands, each brand's device
    messages to its own hub only, and no route to ``telemetry_hub`` (``_routes``)."""


@dataclass(frozen=True)
class TelemetryIngestArgs:
    """One scale unit's IoT Hub."""

    placement: AzurePlacement
    """Required. Resource group, location (the profile's primary), cloud, tags, private endpoint."""
    sku: IotHubPlan
    """Required. Tier, units and partitions from ``platform_model.sizing``."""
    data_residency: bool
    """Required. IoT Hub ``enableDataResidency`` from the profile (only where Azure offers it)."""
    min_tls: bool
    """Required. Set ``minTlsVersion: 1.2``; only where the location accepts it
    (``AzureLocation.iothub_min_tls``: public cloud only, as ``platform_model/catalog/regions.yaml`` cites)."""
    dps_link: DpsLinkKeys | None = None
    """Optional, default None (no DPS links this hub): the keys of the ``dps-link`` policy, which the
    stack owns (``dps_link_secret``) so that a preview never has to read them back."""
    devices: DeviceAccess = DeviceAccess()
    """Optional, default public without IP filter: how vehicles reach the hub's device endpoints."""
    route: EventHubsRoute | None = None
    """Optional, default None: only the fallback route to the built-in endpoint."""
    routing: RoutingPhase = "live"
    """Optional, default ``live``: with a ``route``, whether its endpoints and routes are built yet
    (``RoutingPhase``). Without a route it changes nothing."""


class TelemetryIngest(pulumi.ComponentResource):
    """An IoT Hub: device endpoints reachable by vehicles (X.509 only), routing to Event Hubs.

    Vehicles authenticate with X.509 certificates only: device and module SAS are disabled. Shared
    access stays allowed for the one DPS link policy (see ``DPS_LINK_RIGHTS``); services use Entra ID.
    Routing sends as the hub's system-assigned identity, granted Data Sender on the unit's namespace
    only, and is built in two phases (``RoutingPhase``).
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

        hub = self._build_hub(name, args)
        if args.route is not None:
            self._build_sender(name, args.route, hub)
        # Services (and, with access: private, vehicles on a private APN) reach the hub privately.
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

    def _build_sender(self, name: str, route: EventHubsRoute, hub: azure_native.iothub.IotHubResource) -> None:
        """Data Sender for the hub's system-assigned identity on its own unit's namespace, nothing wider."""
        system_principal = hub.identity.apply(lambda i: (i.principal_id if i else None) or "")
        namespace = pulumi.Output.from_input(route.namespace_id)
        grant_role(sender_grant_name(name), self, namespace, system_principal, EVENT_HUBS_DATA_SENDER)

    def _build_hub(self, name: str, args: TelemetryIngestArgs) -> azure_native.iothub.IotHubResource:
        placement = args.placement
        routing: azure_native.iothub.RoutingPropertiesArgsDict = {"fallback_route": FALLBACK_ROUTE}
        if args.route is not None and args.routing == "live":
            routing = routing | _routes(args.route, placement)
        return azure_native.iothub.IotHubResource(
            hub_resource_name(name),
            resource_group_name=placement.resource_group_name,
            location=placement.location,
            sku={"name": args.sku.tier, "capacity": args.sku.units},
            identity={"type": azure_native.iothub.ResourceIdentityType.SYSTEM_ASSIGNED},
            properties=_hub_access(args)
            | {
                "event_hub_endpoints": {
                    "events": {"partition_count": args.sku.partitions, "retention_time_in_days": 1},
                },
                "authorization_policies": [dps_link_policy(args.dps_link)],
                "routing": routing,
            },
            tags=dict(placement.tags),
            opts=pulumi.ResourceOptions(parent=self),
        )


def _hub_access(args: TelemetryIngestArgs) -> azure_native.iothub.IotHubPropertiesArgsDict:
    """X.509-only devices, the profile's device access, TLS and data residency where they apply."""
    properties: azure_native.iothub.IotHubPropertiesArgsDict = {
        "disable_local_auth": False,
        "disable_device_sas": True,
        "disable_module_sas": True,
        "public_network_access": public_network_access(args.devices),
        "ip_filter_rules": hub_ip_filter_rules(args.devices),
    }
    if args.min_tls:
        properties["min_tls_version"] = "1.2"
    if args.data_residency:
        properties["enable_data_residency"] = True
    return properties


def _routes(route: EventHubsRoute, placement: AzurePlacement) -> azure_native.iothub.RoutingPropertiesArgsDict:
    """Custom endpoints and routes: device messages to telemetry, lifecycle/connection state to events.

    The endpoints authenticate as the hub's system-assigned identity: ``identityBased`` with no
    ``identity``. That is how Azure's own CLI writes a system-assigned endpoint (``--identity [system]``
    leaves the endpoint's ``identity`` unset: Azure/azure-cli,
    src/azure-cli/azure/cli/command_modules/iot/custom.py, ``iot_hub_routing_endpoint_create``), and the
    portal's "Identity-based" endpoint "is set up to use your hub's system assigned identity"
    (https://learn.microsoft.com/azure/iot-hub/virtual-network-support).

    With brands there is one endpoint and one route per brand, each selecting that brand's devices
    (``device_prefix_condition``), and no catch-all telemetry route: IoT Hub delivers a message to the
    endpoint of every route whose condition it matches, so a catch-all beside them would write each
    message twice (twice the ingress the plan sized) into a hub holding every brand's telemetry. A
    message of a device in no brand matches no route and takes the fallback route to the hub's built-in
    endpoint, which no brand's identity can read."""

    def endpoint(name: str, entity: str) -> azure_native.iothub.RoutingEventHubPropertiesArgsDict:
        return {
            "name": name,
            "entity_path": entity,
            "authentication_type": "identityBased",
            "endpoint_uri": route.endpoint_uri,
            "resource_group": placement.resource_group_name,
        }

    def to(name: str, source: str, condition: str, endpoint_name: str) -> azure_native.iothub.RoutePropertiesArgsDict:
        return {
            "name": name,
            "source": source,
            "condition": condition,
            "endpoint_names": [endpoint_name],
            "is_enabled": True,
        }

    if route.brands:
        telemetry_endpoints = [endpoint(b.hub, b.hub) for b in route.brands]
        telemetry_routes = [
            to(b.hub, "DeviceMessages", device_prefix_condition(b.vehicle_prefix), b.hub) for b in route.brands
        ]
    else:
        telemetry_endpoints = [endpoint("telemetry", route.telemetry_hub)]
        telemetry_routes = [to("telemetry", "DeviceMessages", "true", "telemetry")]
    return {
        "endpoints": {"event_hubs": [*telemetry_endpoints, endpoint("vehicle-events", route.events_hub)]},
        "routes": [
            *telemetry_routes,
            to("lifecycle", "DeviceLifecycleEvents", "true", "vehicle-events"),
            to("connection-state", "DeviceConnectionStateEvents", "true", "vehicle-events"),
        ],
    }


@dataclass(frozen=True)
class LinkedHub:
    """A hub DPS may assign vehicles to."""

    name: pulumi.Input[str]
    """Required. IoT Hub name."""
    location: str
    """Required. The hub's location (plain string, inside the boundary)."""
    key: pulumi.Input[str]
    """Required. Primary key of the hub's ``dps-link`` policy (``DpsLinkKeys.primary``), a secret."""


@dataclass(frozen=True)
class DeviceProvisioningArgs:
    """The region's Device Provisioning Service."""

    placement: AzurePlacement
    """Required. Resource group, location (the profile's primary), cloud, tags, private endpoint."""
    hubs: Sequence[LinkedHub]
    """Required. Every hub of the region; DPS spreads vehicles across them (hashed allocation)."""
    units: int
    """Required. DPS service units from ``platform_model.sizing`` (1 M registrations each)."""
    data_residency: bool
    """Required. DPS ``enableDataResidency`` from the profile (only where Azure offers it)."""
    devices: DeviceAccess = DeviceAccess()
    """Optional, default public without IP filter: how vehicles reach DPS."""
    ca_certificate: str | None = None
    """Optional, default None: the fleet CA (PEM), registered as verified so an X.509 enrollment group
    can use it. Enrollment groups are DPS data-plane objects (no ARM resource): README "Deploy to Azure"."""
    brand_ca_certificates: Mapping[str, str] = field(default_factory=dict)
    """Optional, default none: brand -> that brand's fleet CA (PEM), each registered as verified under
    ``fleet-ca-<brand>`` for the brand's own enrollment group ``fleet-<brand>`` (``autocloud fleet enroll``)."""


class DeviceProvisioning(pulumi.ComponentResource):
    """DPS linked to all of the region's hubs. The hubs' link keys are the stack's own Pulumi secrets
    (``dps_link_secret``), never read back from Azure.

    Vehicles are given this instance's own endpoint (``<dps>.azure-devices-provisioning.net``), not
    ``global.azure-devices-provisioning.net``: "the global endpoint ... may send data outside the
    region" with private endpoints, and the instance endpoint keeps provisioning in the DPS's
    region (https://learn.microsoft.com/azure/iot-dps/virtual-network-support).
    """

    name: pulumi.Output[str]
    resource_id: pulumi.Output[str]
    location: str
    endpoints: pulumi.Output[ProvisioningEndpoints]

    def __init__(self, name: str, args: DeviceProvisioningArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("autocloud:telemetry:DeviceProvisioning", name, None, opts)
        placement = args.placement
        self.location = placement.location

        dps = self._build_dps(name, args)
        # Private Link for DPS exists in public regions only (catalog: ``dps_private_endpoint``); elsewhere
        # (Azure China) DPS keeps only its public, X.509-only device endpoint.
        if dps_private_endpoints(placement.cloud):
            private_endpoint(f"{name}-pe", self, placement, dps.id, "iotDps", ("dps",))
        if args.ca_certificate is not None:
            self._build_fleet_ca(f"{name}-fleet-ca", placement, dps, FLEET_CA_NAME, args.ca_certificate)
        for brand, certificate in args.brand_ca_certificates.items():
            self._build_fleet_ca(f"{name}-fleet-ca-{brand}", placement, dps, brand_fleet_ca_name(brand), certificate)

        self.name = dps.name
        self.resource_id = dps.id
        dps_suffix = placement.dns.dps
        # The secret hub links make the whole ``properties`` output secret; the id scope is not.
        id_scope = pulumi.Output.unsecret(dps.properties.apply(lambda p: p.id_scope or ""))
        self.endpoints = pulumi.Output.all(dps.name, id_scope).apply(
            lambda v: ProvisioningEndpoints(device_endpoint=f"{v[0]}.{dps_suffix}", id_scope=v[1])
        )
        self.register_outputs(
            {
                "name": self.name,
                "resource_id": self.resource_id,
                "location": self.location,
                "endpoints": self.endpoints,
            }
        )

    def _build_dps(
        self, name: str, args: DeviceProvisioningArgs
    ) -> azure_native.deviceprovisioningservices.IotDpsResource:
        """DPS hashing vehicles evenly over every linked hub, with the profile's device access and residency."""
        placement = args.placement
        suffix = placement.dns.iothub
        linked: list[azure_native.deviceprovisioningservices.IotHubDefinitionDescriptionArgsDict] = [
            {
                "connection_string": self._connection_string(hub, suffix),
                "location": hub.location,
                "apply_allocation_policy": True,
                "allocation_weight": 1,
            }
            for hub in args.hubs
        ]
        properties: azure_native.deviceprovisioningservices.IotDpsPropertiesDescriptionArgsDict = {
            "allocation_policy": "Hashed",
            "iot_hubs": linked,
            "public_network_access": public_network_access(args.devices),
            "ip_filter_rules": dps_ip_filter_rules(args.devices),
        }
        if args.data_residency:
            properties["enable_data_residency"] = True
        return azure_native.deviceprovisioningservices.IotDpsResource(
            f"{name}-dps",
            resource_group_name=placement.resource_group_name,
            location=placement.location,
            sku={"name": "S1", "capacity": args.units},
            properties=properties,
            tags=dict(placement.tags),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _build_fleet_ca(
        self,
        resource: str,
        placement: AzurePlacement,
        dps: azure_native.deviceprovisioningservices.IotDpsResource,
        certificate_name: str,
        certificate: str,
    ) -> None:
        """A fleet CA registered as verified, so an X.509 enrollment group can point at it by name."""
        azure_native.deviceprovisioningservices.DpsCertificate(
            resource,
            resource_group_name=placement.resource_group_name,
            provisioning_service_name=dps.name,
            certificate_name=certificate_name,
            properties={"certificate": certificate.strip(), "is_verified": True},
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _connection_string(self, hub: LinkedHub, suffix: str) -> pulumi.Output[str]:
        """The link's connection string from the hub's name and the key the stack gave its policy: no call
        to Azure, so a preview needs nothing beyond Reader (``dps_link_secret``)."""
        return pulumi.Output.secret(
            pulumi.Output.all(hub.name, hub.key).apply(
                lambda v: f"HostName={v[0]}.{suffix};SharedAccessKeyName={DPS_LINK_POLICY};SharedAccessKey={v[1]}"
            )
        )
