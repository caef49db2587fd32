"""Catalog of Azure locations: which cloud each belongs to, its region pair, zones and services.

The facts are data, ``platform_model/catalog/regions.yaml``, each with its source; this module loads and
validates that file once and answers questions about it. Residency rules need three facts per
location that Azure's API does not hand us offline: does the name exist in this cloud, where does
geo-redundant storage replicate (its pair), and are there availability zones. Deployability needs
more: is the location access-restricted, which services it offers, where IoT Hub data residency and
TLS 1.2 enforcement exist, where DPS can have a private endpoint, where zone-redundant Cosmos DB needs region
access. A pair is not always symmetric (westus3 pairs with eastus, eastus with westus).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from platform_model.errors import ConfigError, excerpt
from platform_model.inputs import load_yaml
from platform_model.vocabulary import Cloud, normalise_location

Service = Literal["iothub", "dps", "eventhubs", "aks", "cosmosdb", "maps"]

CLOUDS: tuple[Cloud, ...] = get_args(Cloud)
SERVICES: tuple[Service, ...] = get_args(Service)

CATALOG_PATH = Path(__file__).resolve().parent / "catalog" / "regions.yaml"


@dataclass(frozen=True)
class AzureLocation:
    """One Azure location as the catalog knows it."""

    name: str
    """Normalised name, e.g. ``westeurope``."""
    display_name: str
    """Portal name, e.g. ``West Europe``."""
    cloud: Cloud
    pair: str | None
    """Paired region for geo-redundant replication; None where Microsoft publishes no pair."""
    zones: bool
    """Availability zones: zone-redundant storage (Standard_ZRS) is offered here."""
    restricted: bool = False
    """Access-restricted (disaster recovery by request only): nothing is deployed here by default."""
    services: frozenset[Service] = frozenset()
    """Which of our services the location offers."""
    iot_data_residency: bool = False
    """IoT Hub / DPS ``enableDataResidency`` is offered here."""
    iothub_min_tls: bool = False
    """IoT Hub accepts ``minTlsVersion: 1.2`` (TLS 1.2 enforcement) here."""
    dps_private_endpoint: bool = False
    """A DPS instance here can have a private endpoint (Private Link for DPS: public cloud only)."""
    cosmosdb_zone_access: bool = False
    """Zone-redundant Cosmos DB accounts here have been refused to subscriptions without region access."""
    source: str = ""
    """Where the facts come from."""


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class _CloudEntry(_Strict):
    services: tuple[Service, ...]
    iothub_min_tls: bool
    dps_private_endpoint: bool
    source: str = Field(min_length=1)


class _LocationEntry(_Strict):
    display: str = Field(min_length=1)
    cloud: Cloud
    pair: str | None
    zones: bool
    restricted: bool = False
    services: tuple[Service, ...] | None = None
    iothub_min_tls: bool | None = None
    source: str | None = None


class _MapsEntry(_Strict):
    locations: dict[str, Literal["us", "eu"]]
    source: str = Field(min_length=1)


class _ResidencyEntry(_Strict):
    locations: tuple[str, ...]
    source: str = Field(min_length=1)


class _Catalog(_Strict):
    sources: dict[str, str]
    clouds: dict[Cloud, _CloudEntry]
    maps: _MapsEntry
    iot_data_residency: _ResidencyEntry
    cosmosdb_zone_access: _ResidencyEntry
    locations: dict[str, _LocationEntry]


@dataclass(frozen=True)
class Catalog:
    """The validated catalog: every location, and where Maps and IoT data residency exist."""

    locations: Mapping[str, AzureLocation]
    maps_locations: Mapping[str, str]
    """Azure Maps account locations and the geography endpoint of each."""
    maps_source: str
    iot_data_residency_source: str
    cloud_services: Mapping[Cloud, frozenset[Service]]
    """What each cloud offers in at least one location (Azure Maps: none in Azure China)."""
    cosmosdb_zone_access_source: str = ""
    sources: Mapping[str, str] = field(default_factory=dict)
    """The catalog's general sources by topic (locations, pairs, iot_failover, ...)."""
    cloud_sources: Mapping[Cloud, str] = field(default_factory=dict)
    """Where each cloud's list of services comes from (products by region)."""

    @property
    def iot_data_residency_locations(self) -> frozenset[str]:
        return frozenset(name for name, loc in self.locations.items() if loc.iot_data_residency)


def _check_references(data: _Catalog, label: str) -> None:
    known = set(data.locations)
    for name, entry in data.locations.items():
        if name != normalise_location(name):
            raise ValueError(f"{label}: locations.{name}: not a normalised location name")
        if entry.pair is not None and entry.pair not in known:
            raise ValueError(f"{label}: locations.{name}.pair: {entry.pair!r} is not in the catalog")
        if entry.pair is not None and data.locations[entry.pair].cloud != entry.cloud:
            raise ValueError(f"{label}: locations.{name}.pair: {entry.pair!r} is in another cloud")
    for key, names in (
        ("maps.locations", list(data.maps.locations)),
        ("iot_data_residency.locations", list(data.iot_data_residency.locations)),
        ("cosmosdb_zone_access.locations", list(data.cosmosdb_zone_access.locations)),
    ):
        for name in names:
            if name not in known:
                raise ValueError(f"{label}: {key}: {name!r} is not in the catalog")


def load_catalog(path: Path = CATALOG_PATH) -> Catalog:
    """Read and validate a catalog file; ValueError names the file and the key."""
    label = path.name
    try:
        raw = load_yaml(path, label)
        data = _Catalog.model_validate(raw)
    except ConfigError as exc:
        raise ValueError(str(exc)) from None
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        key = ".".join(str(part) for part in first.get("loc", ()))
        raise ValueError(f"{label}: {key}: {first.get('msg')}") from None
    _check_references(data, label)
    residency = frozenset(data.iot_data_residency.locations)
    zone_access = frozenset(data.cosmosdb_zone_access.locations)
    locations: dict[str, AzureLocation] = {}
    for name, entry in data.locations.items():
        cloud = data.clouds[entry.cloud]
        services = set(entry.services if entry.services is not None else cloud.services)
        if name in data.maps.locations:
            services.add("maps")
        locations[name] = AzureLocation(
            name=name,
            display_name=entry.display,
            cloud=entry.cloud,
            pair=entry.pair,
            zones=entry.zones,
            restricted=entry.restricted,
            services=frozenset(services),
            iot_data_residency=name in residency,
            iothub_min_tls=cloud.iothub_min_tls if entry.iothub_min_tls is None else entry.iothub_min_tls,
            dps_private_endpoint=cloud.dps_private_endpoint,
            cosmosdb_zone_access=name in zone_access,
            source=entry.source or data.sources["china_locations" if entry.cloud == "china" else "locations"],
        )
    cloud_services = {
        cloud: frozenset(s for loc in locations.values() if loc.cloud == cloud for s in loc.services)
        for cloud in CLOUDS
    }
    return Catalog(
        locations,
        dict(data.maps.locations),
        data.maps.source,
        data.iot_data_residency.source,
        cloud_services,
        data.cosmosdb_zone_access.source,
        dict(data.sources),
        {name: entry.source for name, entry in data.clouds.items()},
    )


@cache
def catalog() -> Catalog:
    """The shipped catalog, loaded on first use (not at import: importing the floor reads no file)."""
    return load_catalog()


SERVICE_NAMES: Mapping[Service, str] = {
    "iothub": "Azure IoT Hub",
    "dps": "IoT Hub Device Provisioning Service",
    "eventhubs": "Azure Event Hubs",
    "aks": "Azure Kubernetes Service",
    "cosmosdb": "Azure Cosmos DB",
    "maps": "Azure Maps",
}

CLOUD_NAMES: Mapping[Cloud, str] = {"public": "Azure (public cloud)", "china": "Azure China"}

#: The azure-native provider's ``environment`` value per cloud (its endpoints: management, AAD, ...).
PROVIDER_ENVIRONMENT: Mapping[Cloud, str] = {"public": "public", "china": "china"}


@dataclass(frozen=True)
class CloudDns:
    """Public DNS suffixes and private-link DNS zones of one cloud (Azure China differs throughout)."""

    iothub: str
    dps: str
    servicebus: str
    blob: str
    cosmos: str
    registry: str
    """Azure Container Registry login servers: ``<name>.azurecr.io``, ``<name>.azurecr.cn`` in Azure China
    (https://learn.microsoft.com/azure/container-registry/container-registry-private-link,
    https://docs.azure.cn/en-us/container-registry/container-registry-private-link)."""
    private_zones: Mapping[str, str]
    """Private DNS zone per private-link target, keyed by our names (iothub, dps, servicebus, ...)."""


DNS: Mapping[Cloud, CloudDns] = {
    "public": CloudDns(
        iothub="azure-devices.net",
        dps="azure-devices-provisioning.net",
        servicebus="servicebus.windows.net",
        blob="blob.core.windows.net",
        cosmos="documents.azure.com",
        registry="azurecr.io",
        private_zones={
            "iothub": "privatelink.azure-devices.net",
            "dps": "privatelink.azure-devices-provisioning.net",
            "servicebus": "privatelink.servicebus.windows.net",
            "blob": "privatelink.blob.core.windows.net",
            "cosmos": "privatelink.documents.azure.com",
            # https://learn.microsoft.com/azure/private-link/private-endpoint-dns (Container Registry, "registry")
            "registry": "privatelink.azurecr.io",
        },
    ),
    "china": CloudDns(
        iothub="azure-devices.cn",
        dps="azure-devices-provisioning.cn",
        servicebus="servicebus.chinacloudapi.cn",
        blob="blob.core.chinacloudapi.cn",
        cosmos="documents.azure.cn",
        registry="azurecr.cn",
        private_zones={
            "iothub": "privatelink.azure-devices.cn",
            "dps": "privatelink.azure-devices-provisioning.cn",
            "servicebus": "privatelink.servicebus.chinacloudapi.cn",
            "blob": "privatelink.blob.core.chinacloudapi.cn",
            "cosmos": "privatelink.documents.azure.cn",
            # https://docs.azure.cn/zh-cn/private-link/private-endpoint-dns (China: Azure 容器注册表, "registry")
            "registry": "privatelink.azurecr.cn",
        },
    ),
}


def find_location(name: str) -> AzureLocation | None:
    """The catalog entry for ``name`` (any spelling), or None if Azure has no such location."""
    return catalog().locations.get(normalise_location(name))


def locations_in(cloud: Cloud) -> tuple[str, ...]:
    """All location names of one cloud, sorted."""
    return tuple(sorted(loc.name for loc in catalog().locations.values() if loc.cloud == cloud))


def paired_region(name: str) -> str | None:
    """Where geo-redundant storage in ``name`` replicates to."""
    found = find_location(name)
    return found.pair if found else None


def dps_private_endpoints(cloud: Cloud) -> bool:
    """Whether DPS can have a private endpoint in ``cloud`` (Private Link for DPS: public regions only)."""
    return any(loc.dps_private_endpoint for loc in catalog().locations.values() if loc.cloud == cloud)


def offers(cloud: Cloud, service: Service) -> bool:
    """Whether ``cloud`` offers ``service`` at all."""
    return service in catalog().cloud_services[cloud]


def storage_sku(location: str) -> str:
    """The storage redundancy that keeps data in ``location``: ZRS where zones exist, else LRS.

    Never GRS/RA-GRS/GZRS: those replicate to the paired region, which may leave the boundary.
    """
    found = find_location(location)
    return "Standard_ZRS" if found is not None and found.zones else "Standard_LRS"


def maps_location(boundary: Sequence[str], preferred: str) -> str | None:
    """The location for an Azure Maps account inside ``boundary``: ``preferred`` if Maps exists there,
    else the first boundary location that has Maps, else None (Maps cannot stay in this boundary)."""
    maps = catalog().maps_locations
    if preferred in maps:
        return preferred
    return next((loc for loc in boundary if loc in maps), None)


def has_zones(location: str) -> bool:
    """Whether ``location`` has availability zones (unknown: no)."""
    found = find_location(location)
    return bool(found and found.zones)


def location_problem(location: str, service: Service | None = None) -> str | None:
    """Why nothing (or ``service``) can be deployed in ``location``, or None: unknown name,
    access-restricted location, or a service the location does not offer."""
    found = find_location(location)
    if found is None:
        return f"{excerpt(location)} is not an Azure location in the catalog"
    if found.restricted:
        return (
            f"{found.name!r} ({found.display_name}) is access-restricted (disaster recovery by request only; "
            f"source: {found.source})"
        )
    if service is not None and service not in found.services:
        return f"{SERVICE_NAMES[service]} is not offered in {found.name!r} (source: {found.source})"
    return None
