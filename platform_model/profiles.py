"""Region profiles and stack config as frozen, validated objects, parsed once at the edge.

A region profile (``regions/<name>.yaml``) says where vehicle data may live and how big the fleet
is; a stack's ``autocloud:*`` config picks a profile and a target. Everything downstream (sizing,
components, policies, the CLI) takes these objects and never re-reads YAML or ``pulumi.Config``.
Every bad input becomes one :class:`~platform_model.errors.ConfigError` naming the file and the key.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from platform_model.errors import KEYED_ERROR_TYPE, ConfigError, excerpt, from_validation_error
from platform_model.inputs import load_mapping
from platform_model.jurisdictions import Jurisdiction, failover_leaves, jurisdictions, service_leaves
from platform_model.locations import (
    CLOUD_NAMES,
    PROVIDER_ENVIRONMENT,
    SERVICE_NAMES,
    SERVICES,
    Service,
    catalog,
    find_location,
    has_zones,
    location_problem,
    locations_in,
    maps_location,
    offers,
)
from platform_model.paths import REPO_ROOT
from platform_model.vocabulary import PROFILE_TAGS, Cloud, normalise_location

MAX_MESSAGE_KB = 256
"""IoT Hub's device-to-cloud message size limit (256 KB)."""


def keyed_error(key: str, message: str) -> PydanticCustomError:
    """A validation error that knows its YAML key (model validators otherwise report the root)."""
    return PydanticCustomError(KEYED_ERROR_TYPE, "{key}: {message}", {"key": key, "message": message})


def _normalise(value: Any) -> Any:
    return normalise_location(value) if isinstance(value, str) else value


def json_list(value: Any) -> Any:
    """A list reaches a program as its JSON text (that is how the engine passes structured config)."""
    if isinstance(value, str) and value.lstrip().startswith("["):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


Location = Annotated[str, BeforeValidator(_normalise)]
"""An Azure location name, normalised (``West Europe`` -> ``westeurope``)."""

Name = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,30}$")]

ObjectId = Annotated[str, Field(pattern=r"^[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}$")]
"""An Entra ID object id (a GUID)."""

PEM_CERTIFICATE = r"^\s*-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s]+-----END CERTIFICATE-----\s*$"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Residency(_Frozen):
    """Where vehicle data may live."""

    boundary: tuple[Location, ...] = Field(min_length=1)
    """Required. Every location data may be stored or processed in."""
    primary: Location
    """Required. Home of every single-location resource (resource group, hubs, AKS)."""
    secondary: Location | None
    """Required. Failover / replica location, inside the boundary; ``null`` where the jurisdiction has only one
    open location (Brazil: Brazil Southeast is access-restricted): Cosmos DB then keeps one region, and
    zone redundancy in the primary is what survives a datacenter loss."""
    iot_data_residency: bool
    """Required. IoT Hub/DPS ``enableDataResidency`` (no cross-region disaster recovery). Azure offers it
    only where the pair leaves the geography (Brazil South, Southeast Asia: catalog/regions.yaml);
    elsewhere the pair already keeps IoT Hub's replica in the geography, so set false."""


class Services(_Frozen):
    """Which capabilities the region deploys. All keys are required: residency is explicit."""

    iothub: bool
    dps: bool
    eventhubs: bool
    aks: bool
    cosmosdb: bool
    maps: bool

    def enabled(self) -> tuple[Service, ...]:
        return tuple(s for s in SERVICES if getattr(self, s))


class Resilience(_Frozen):
    """How the region survives a datacenter loss."""

    zone_redundant: bool = True
    """Optional, default true. Spread AKS pools, Cosmos DB replicas and backups over availability
    zones; every location the region deploys to (primary, secondary) must have zones then."""


LOG_RETENTION_MIN_DAYS = 30
LOG_RETENTION_MAX_DAYS = 730


class Monitoring(_Frozen):
    """How long the region's own Log Analytics workspace keeps the platform's logs."""

    log_retention_days: int = Field(default=30, ge=LOG_RETENTION_MIN_DAYS, le=LOG_RETENTION_MAX_DAYS)
    """Optional, default 30, at most 730. "The default retention period of Analytics tables in a Log
    Analytics workspace is 30 days. You can change the default analytics period of Analytics tables up to
    two years by modifying the workspace-level data retention setting"; 31 days "are included in the
    ingestion price", so going lower saves nothing and longer is billed per GB and month
    (https://learn.microsoft.com/azure/azure-monitor/logs/data-retention-configure; Azure China:
    https://docs.azure.cn/azure-monitor/logs/data-retention-configure; prices:
    https://azure.microsoft.com/pricing/details/monitor/)."""


def _cidr(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return ipaddress.IPv4Network(value, strict=True)
        except ValueError as exc:
            raise ValueError(f"not an IPv4 CIDR block: {exc}") from None
    return value


def _address(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return ipaddress.IPv4Address(value)
        except ValueError as exc:
            raise ValueError(f"not an IPv4 address: {exc}") from None
    return value


Cidr = Annotated[ipaddress.IPv4Network, BeforeValidator(_cidr)]
Address = Annotated[ipaddress.IPv4Address, BeforeValidator(_address)]


class NetworkPlan(_Frozen):
    """The region's address plan: the VNet, its subnets, and AKS's own ranges, validated together.

    AKS refuses a cluster whose service CIDR overlaps a subnet of its VNet
    (``ServiceCidrOverlapExistingSubnetsCidr``; its default service CIDR is 10.0.0.0/16 and the
    default DNS service IP 10.0.0.10, ``ContainerServiceNetworkProfile`` in
    Azure/azure-rest-api-specs specification/containerservice/.../managedClusters.json; Azure/azure-cli#20810).
    With Azure CNI Overlay the pod CIDR must not overlap the VNet either
    (https://learn.microsoft.com/azure/aks/azure-cni-overlay), and the DNS service IP must be inside the
    service CIDR and not its first address (kubernetes.default takes that one).
    """

    vnet: Cidr = Field(default_factory=lambda: ipaddress.IPv4Network("10.0.0.0/16"))
    """Optional, default 10.0.0.0/16: the region's VNet address space."""
    endpoints_subnet: Cidr = Field(default_factory=lambda: ipaddress.IPv4Network("10.0.0.0/22"))
    """Optional, default 10.0.0.0/22: private endpoints (inside ``vnet``)."""
    nodes_subnet: Cidr = Field(default_factory=lambda: ipaddress.IPv4Network("10.0.16.0/20"))
    """Optional, default 10.0.16.0/20: AKS nodes (inside ``vnet``)."""
    service_cidr: Cidr = Field(default_factory=lambda: ipaddress.IPv4Network("10.100.0.0/16"))
    """Optional, default 10.100.0.0/16: Kubernetes service ClusterIPs (outside ``vnet``)."""
    dns_service_ip: Address = Field(default_factory=lambda: ipaddress.IPv4Address("10.100.0.10"))
    """Optional, default 10.100.0.10: CoreDNS's ClusterIP (inside ``service_cidr``)."""
    pod_cidr: Cidr = Field(default_factory=lambda: ipaddress.IPv4Network("10.244.0.0/16"))
    """Optional, default 10.244.0.0/16: the pod overlay (outside ``vnet`` and ``service_cidr``)."""

    @model_validator(mode="after")
    def _check(self) -> NetworkPlan:
        for key in ("endpoints_subnet", "nodes_subnet"):
            subnet = getattr(self, key)
            if not subnet.subnet_of(self.vnet):
                raise keyed_error(f"network.{key}", f"{subnet} is not inside network.vnet {self.vnet}")
        if self.endpoints_subnet.overlaps(self.nodes_subnet):
            raise keyed_error(
                "network.nodes_subnet", f"{self.nodes_subnet} overlaps network.endpoints_subnet {self.endpoints_subnet}"
            )
        for key in ("service_cidr", "pod_cidr"):
            block = getattr(self, key)
            if block.overlaps(self.vnet):
                raise keyed_error(
                    f"network.{key}",
                    f"{block} overlaps network.vnet {self.vnet}, which AKS refuses "
                    "(ServiceCidrOverlapExistingSubnetsCidr)",
                )
        if self.pod_cidr.overlaps(self.service_cidr):
            raise keyed_error("network.pod_cidr", f"{self.pod_cidr} overlaps network.service_cidr {self.service_cidr}")
        if self.dns_service_ip not in self.service_cidr:
            raise keyed_error(
                "network.dns_service_ip", f"{self.dns_service_ip} is outside network.service_cidr {self.service_cidr}"
            )
        if self.dns_service_ip in (self.service_cidr.network_address, self.service_cidr.network_address + 1):
            raise keyed_error(
                "network.dns_service_ip",
                f"{self.dns_service_ip} is reserved in network.service_cidr "
                "(network address, or kubernetes.default's first address)",
            )
        return self


DeviceAccess = Literal["public", "private"]


class Devices(_Frozen):
    """How vehicles reach the device-facing endpoints (IoT Hub device APIs, DPS).

    Vehicles are on mobile networks, on the internet: IoT Hub advises against private link for
    devices in a wide-area network (https://learn.microsoft.com/azure/iot-hub/virtual-network-support),
    so device endpoints are public by default and devices authenticate with X.509 only.
    """

    access: DeviceAccess = "public"
    """Optional, default public. ``private`` only for fleets on a private APN or ExpressRoute into the
    region's VNet: the device endpoints are then reachable through private endpoints only."""
    ip_filter: tuple[Cidr, ...] = ()
    """Optional, default none (any address). CIDRs allowed to reach the device endpoints; every other
    address is rejected. Only with ``access: public``."""

    @model_validator(mode="after")
    def _check(self) -> Devices:
        if self.ip_filter and self.access != "public":
            raise keyed_error("devices.ip_filter", "applies to access: public only")
        return self


def _within_message_limit(value: float) -> float:
    if value > MAX_MESSAGE_KB:
        raise PydanticCustomError("message_limit", f"{value:g} KB is above IoT Hub's {MAX_MESSAGE_KB} KB message limit")
    return value


# The fleet numbers' rules, stated once: a profile's fleet and a stack's overrides of it both use them.
Vehicles = Annotated[int, Field(gt=0)]
MessageRate = Annotated[float, Field(gt=0, allow_inf_nan=False)]
MessageKb = Annotated[float, Field(gt=0, allow_inf_nan=False), AfterValidator(_within_message_limit)]


class Fleet(_Frozen):
    """Sizing inputs; each can be overridden per stack."""

    vehicles: Vehicles
    """Required. Connected vehicles in the region."""
    messages_per_vehicle_per_hour: MessageRate
    """Required. Device-to-cloud telemetry messages per vehicle per hour."""
    message_kb: MessageKb
    """Required. Average message size in KB (IoT Hub accepts at most 256 KB)."""


class RegionProfile(_Frozen):
    """One residency region: cloud, boundary, services, fleet and tags (``regions/<name>.yaml``)."""

    name: Name
    cloud: Cloud
    residency: Residency
    services: Services
    fleet: Fleet
    jurisdiction: str
    """Required. The jurisdiction the region serves (``platform_model/catalog/jurisdictions/<name>.yaml``): its
    locations bound the boundary and its data flows decide which services may be enabled."""
    tags: dict[str, str] = Field(default_factory=dict)
    resilience: Resilience = Field(default_factory=Resilience)
    network: NetworkPlan = Field(default_factory=NetworkPlan)
    devices: Devices = Field(default_factory=Devices)
    monitoring: Monitoring = Field(default_factory=Monitoring)

    @model_validator(mode="after")
    def _check(self) -> RegionProfile:
        self._check_locations()
        self._check_jurisdiction()
        self._check_services()
        self._check_capabilities()
        missing = [t for t in PROFILE_TAGS if t not in self.tags]
        if missing:
            raise keyed_error("tags", f"required tag {missing[0]!r} is missing (required: {', '.join(PROFILE_TAGS)})")
        return self

    def _check_locations(self) -> None:
        boundary = self.residency.boundary
        for index, name in enumerate(boundary):
            problem = _location_problem(name, self.cloud)
            if problem:
                raise keyed_error(f"residency.boundary[{index}]", problem)
            if boundary.index(name) != index:
                raise keyed_error(f"residency.boundary[{index}]", f"{excerpt(name)} is listed twice")
        for key in ("primary", "secondary"):
            name = getattr(self.residency, key)
            if name is None:
                continue
            problem = _location_problem(name, self.cloud)
            if problem:
                raise keyed_error(f"residency.{key}", problem)
            if name not in boundary:
                raise keyed_error(
                    f"residency.{key}", f"{excerpt(name)} is outside the boundary (allowed: {', '.join(boundary)})"
                )
        if self.residency.secondary == self.residency.primary:
            raise keyed_error("residency.secondary", f"must differ from primary {self.residency.primary!r}")

    def _check_jurisdiction(self) -> None:
        """The profile against its jurisdiction: every boundary location inside it, no enabled service whose data
        would leave it, IoT Hub and DPS failing over inside it. Each error cites the fact's source."""
        known = jurisdictions()
        found = known.get(self.jurisdiction)
        if found is None:
            raise keyed_error(
                "jurisdiction", f"{excerpt(self.jurisdiction)} is not a jurisdiction (known: {', '.join(known)})"
            )
        if found.verdict == "not-deployable":
            raise keyed_error(
                "jurisdiction", f"{found.name} is not deployable on Azure: {found.reason} (source: {found.rule.source})"
            )
        if found.cloud != self.cloud:
            raise keyed_error(
                "cloud", f"{found.name}'s locations are in {CLOUD_NAMES[found.cloud]}, not {self.cloud!r}"
            )
        for index, location in enumerate(self.residency.boundary):
            if location not in found.locations:
                raise keyed_error(
                    f"residency.boundary[{index}]",
                    f"{location!r} is outside {found.name} (its locations: {', '.join(found.locations)}; "
                    f"source: {found.locations_source})",
                )
        for service in self.services.enabled():
            leaves = service_leaves(found, service)
            if leaves and offers(self.cloud, service):
                raise keyed_error(f"services.{service}", leaves)
        self._check_failover(found)

    def _check_failover(self, found: Jurisdiction) -> None:
        """IoT Hub and DPS replicate to the primary's paired region and fail over there unless data residency
        is on (offered only where the pair is abroad)."""
        if not (self.services.iothub or self.services.dps):
            return
        leaves = failover_leaves(found, self.residency.primary, self.residency.iot_data_residency)
        primary = find_location(self.residency.primary)
        if leaves is None or primary is None:
            return
        fix = (
            "set iot_data_residency: true"
            if primary.iot_data_residency
            else "choose a primary whose paired region is inside it"
        )
        raise keyed_error("residency.iot_data_residency", f"{leaves}; {fix}")

    def _check_services(self) -> None:
        for service in self.services.enabled():
            if not offers(self.cloud, service):
                raise keyed_error(
                    f"services.{service}",
                    f"{SERVICE_NAMES[service]} is not offered in {CLOUD_NAMES[self.cloud]}",
                )
        if self.services.dps and not self.services.iothub:
            raise keyed_error("services.dps", "the Device Provisioning Service needs iothub: true")
        if self.services.maps and self.maps_location is None:
            raise keyed_error("services.maps", "Azure Maps has no account location inside the boundary")

    def _check_capabilities(self) -> None:
        """The locations the region deploys to, against the region catalog (platform_model/catalog/regions.yaml):
        not access-restricted, offering every enabled service, zones where zone redundancy is asked,
        IoT data residency only where Azure offers it."""
        single: list[Service] = [s for s in self.services.enabled() if s != "maps"]
        # Cosmos DB is the only service replicated to the secondary.
        secondary: list[Service] = ["cosmosdb"] if self.services.cosmosdb else []
        used = {"primary": single, "secondary": secondary}
        for key, services in used.items():
            location = getattr(self.residency, key)
            if location is None:
                continue
            problem = location_problem(location)
            if problem:
                raise keyed_error(f"residency.{key}", problem)
            for service in services:
                problem = location_problem(location, service)
                if problem:
                    raise keyed_error(f"services.{service}", f"{problem} (residency.{key})")
            if self.resilience.zone_redundant and services and not has_zones(location):
                raise keyed_error(
                    "resilience.zone_redundant",
                    f"{location!r} (residency.{key}) has no availability zones; set zone_redundant: false",
                )
        if self.residency.iot_data_residency and self.services.iothub:
            primary = find_location(self.residency.primary)
            if primary is not None and not primary.iot_data_residency:
                raise keyed_error(
                    "residency.iot_data_residency",
                    f"IoT Hub data residency is not offered in {primary.name!r}: only "
                    f"{', '.join(sorted(catalog().iot_data_residency_locations))}, whose paired region is in another "
                    f"geography (source: {catalog().iot_data_residency_source})",
                )

    @property
    def boundary(self) -> tuple[str, ...]:
        return self.residency.boundary

    @property
    def primary(self) -> str:
        return self.residency.primary

    @property
    def secondary(self) -> str | None:
        return self.residency.secondary

    @property
    def replica_locations(self) -> tuple[str, ...]:
        """Where Cosmos DB keeps the vehicle state: the primary, then the secondary if there is one."""
        return (self.primary,) if self.secondary is None else (self.primary, self.secondary)

    @property
    def provider_environment(self) -> str:
        """The azure-native provider ``environment`` for this cloud (``public`` or ``china``)."""
        return PROVIDER_ENVIRONMENT[self.cloud]

    @property
    def maps_location(self) -> str | None:
        """Where the Azure Maps account goes: the primary if Maps exists there, else in-boundary."""
        return maps_location(self.residency.boundary, self.residency.primary)

    def with_fleet(
        self,
        vehicles: int | None = None,
        messages_per_vehicle_per_hour: float | None = None,
        message_kb: float | None = None,
    ) -> RegionProfile:
        """A validated copy with some fleet numbers replaced (None keeps the profile's value)."""
        overrides = {
            "vehicles": vehicles,
            "messages_per_vehicle_per_hour": messages_per_vehicle_per_hour,
            "message_kb": message_kb,
        }
        fleet = self.fleet.model_dump() | {k: v for k, v in overrides.items() if v is not None}
        try:
            return RegionProfile.model_validate(self.model_dump() | {"fleet": fleet})
        except ValidationError as exc:
            raise from_validation_error("", exc, RegionProfile) from None


def _location_problem(name: str, cloud: Cloud) -> str | None:
    """Why ``name`` cannot be used in ``cloud``, or None if it can."""
    found = find_location(name)
    if found is None:
        close = difflib.get_close_matches(name, locations_in(cloud), n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        return f"{excerpt(name)} is not an Azure location{hint}"
    if found.cloud != cloud:
        return f"{excerpt(name)} is a location of {CLOUD_NAMES[found.cloud]}, not of {CLOUD_NAMES[cloud]}"
    return None


def display_path(path: Path, root: Path | None = None) -> str:
    """``regions/eu.yaml`` rather than an absolute path, when the file is under the project."""
    base = (root or REPO_ROOT).resolve()
    try:
        return path.resolve().relative_to(base).as_posix()
    except ValueError:
        return str(path)


def available_profiles(root: Path | None = None) -> tuple[str, ...]:
    """Names of the region profiles under ``regions/``."""
    return tuple(sorted(p.stem for p in ((root or REPO_ROOT) / "regions").glob("*.yaml")))


def profile_path(name_or_path: str | Path, root: Path | None = None) -> Path:
    """``eu`` -> ``<root>/regions/eu.yaml``; a path (with a slash or a .yaml suffix) is kept."""
    text = str(name_or_path)
    if "/" in text or text.endswith((".yaml", ".yml")):
        return Path(text)
    return (root or REPO_ROOT) / "regions" / f"{text}.yaml"


def parse_fleet(vehicles: Any, messages_per_vehicle_per_hour: Any, message_kb: Any) -> Fleet:
    """Fleet numbers given one by one (``autocloud size --vehicles``), checked by the profile's rules;
    errors name the ``fleet.*`` key."""
    try:
        return Fleet(
            vehicles=vehicles, messages_per_vehicle_per_hour=messages_per_vehicle_per_hour, message_kb=message_kb
        )
    except ValidationError as exc:
        raise from_validation_error("", exc, Fleet, key_style=lambda name: f"fleet.{name}") from None


def parse_profile(data: Mapping[str, Any], source: str) -> RegionProfile:
    """Validate an already-loaded mapping; errors are attributed to ``source``."""
    try:
        return RegionProfile.model_validate(data)
    except ValidationError as exc:
        raise from_validation_error(source, exc, RegionProfile) from None


def load_profile(name_or_path: str | Path, root: Path | None = None) -> RegionProfile:
    """Load and validate a region profile by name (``eu``) or path (``regions/eu.yaml``)."""
    path = profile_path(name_or_path, root)
    label = display_path(path, root)
    if not path.is_file() and path.parent == (root or REPO_ROOT) / "regions":
        known = ", ".join(available_profiles(root)) or "none"
        raise ConfigError(label, "", f"no region profile {path.stem!r} (available: {known})")
    profile = parse_profile(load_mapping(path, label), label)
    if path.stem != profile.name and str(name_or_path) == path.stem:
        raise ConfigError(label, "name", f"{profile.name!r} does not match the file name {path.stem!r}")
    return profile
