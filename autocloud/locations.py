"""Catalog of Azure locations: which cloud each belongs to, its region pair, zones and services.

Residency rules need three facts per location that Azure's API does not hand us offline: does the
name exist in this cloud, where does geo-redundant storage replicate (its pair), and are there
availability zones (so zone-redundant storage keeps data in the location). Pairs follow Microsoft's
published "Azure cross-region replication pairings"; a pair is not always symmetric (westus3 pairs
with eastus, eastus pairs with westus).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, get_args

Cloud = Literal["public", "china"]
Service = Literal["iothub", "dps", "eventhubs", "aks", "cosmosdb", "maps"]

CLOUDS: tuple[Cloud, ...] = get_args(Cloud)
SERVICES: tuple[Service, ...] = get_args(Service)


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


def normalise_location(name: str) -> str:
    """``West Europe``, ``west europe`` and ``westeurope`` are the same location: ``westeurope``."""
    return "".join(name.split()).lower()


# name, display name, pair, availability zones
_PUBLIC: tuple[tuple[str, str, str | None, bool], ...] = (
    # Europe
    ("westeurope", "West Europe", "northeurope", True),
    ("northeurope", "North Europe", "westeurope", True),
    ("germanywestcentral", "Germany West Central", "germanynorth", True),
    ("germanynorth", "Germany North", "germanywestcentral", False),
    ("francecentral", "France Central", "francesouth", True),
    ("francesouth", "France South", "francecentral", False),
    ("swedencentral", "Sweden Central", "swedensouth", True),
    ("swedensouth", "Sweden South", "swedencentral", False),
    ("uksouth", "UK South", "ukwest", True),
    ("ukwest", "UK West", "uksouth", False),
    ("norwayeast", "Norway East", "norwaywest", True),
    ("norwaywest", "Norway West", "norwayeast", False),
    ("switzerlandnorth", "Switzerland North", "switzerlandwest", True),
    ("switzerlandwest", "Switzerland West", "switzerlandnorth", False),
    ("italynorth", "Italy North", None, True),
    ("polandcentral", "Poland Central", None, True),
    ("spaincentral", "Spain Central", None, True),
    # United States
    ("eastus", "East US", "westus", True),
    ("westus", "West US", "eastus", False),
    ("eastus2", "East US 2", "centralus", True),
    ("centralus", "Central US", "eastus2", True),
    ("westus2", "West US 2", "westcentralus", True),
    ("westcentralus", "West Central US", "westus2", False),
    ("westus3", "West US 3", "eastus", True),
    ("southcentralus", "South Central US", "northcentralus", True),
    ("northcentralus", "North Central US", "southcentralus", False),
    # Americas
    ("canadacentral", "Canada Central", "canadaeast", True),
    ("canadaeast", "Canada East", "canadacentral", False),
    ("brazilsouth", "Brazil South", "southcentralus", True),
    ("brazilsoutheast", "Brazil Southeast", "brazilsouth", False),
    ("mexicocentral", "Mexico Central", None, True),
    # Asia Pacific, Middle East, Africa
    ("eastasia", "East Asia", "southeastasia", True),
    ("southeastasia", "Southeast Asia", "eastasia", True),
    ("japaneast", "Japan East", "japanwest", True),
    ("japanwest", "Japan West", "japaneast", True),
    ("koreacentral", "Korea Central", "koreasouth", True),
    ("koreasouth", "Korea South", "koreacentral", False),
    ("centralindia", "Central India", "southindia", True),
    ("southindia", "South India", "centralindia", False),
    ("westindia", "West India", "southindia", False),
    ("australiaeast", "Australia East", "australiasoutheast", True),
    ("australiasoutheast", "Australia Southeast", "australiaeast", False),
    ("australiacentral", "Australia Central", "australiacentral2", False),
    ("australiacentral2", "Australia Central 2", "australiacentral", False),
    ("newzealandnorth", "New Zealand North", None, True),
    ("uaenorth", "UAE North", "uaecentral", True),
    ("uaecentral", "UAE Central", "uaenorth", False),
    ("qatarcentral", "Qatar Central", None, True),
    ("israelcentral", "Israel Central", None, True),
    ("southafricanorth", "South Africa North", "southafricawest", True),
    ("southafricawest", "South Africa West", "southafricanorth", False),
)

# Azure China (operated by 21Vianet): its own endpoints and its own location names.
_CHINA: tuple[tuple[str, str, str | None, bool], ...] = (
    ("chinanorth", "China North", "chinaeast", False),
    ("chinaeast", "China East", "chinanorth", False),
    ("chinanorth2", "China North 2", "chinaeast2", False),
    ("chinaeast2", "China East 2", "chinanorth2", False),
    ("chinanorth3", "China North 3", "chinaeast3", True),
    ("chinaeast3", "China East 3", "chinanorth3", False),
)

_BY_CLOUD: tuple[tuple[Cloud, tuple[tuple[str, str, str | None, bool], ...]], ...] = (
    ("public", _PUBLIC),
    ("china", _CHINA),
)

LOCATIONS: Mapping[str, AzureLocation] = {
    name: AzureLocation(name, display, cloud, pair, zones)
    for cloud, rows in _BY_CLOUD
    for name, display, pair, zones in rows
}

CLOUD_SERVICES: Mapping[Cloud, frozenset[Service]] = {
    "public": frozenset(SERVICES),
    # Azure Maps is not offered in Azure China.
    "china": frozenset({"iothub", "dps", "eventhubs", "aks", "cosmosdb"}),
}

SERVICE_NAMES: Mapping[Service, str] = {
    "iothub": "Azure IoT Hub",
    "dps": "IoT Hub Device Provisioning Service",
    "eventhubs": "Azure Event Hubs",
    "aks": "Azure Kubernetes Service",
    "cosmosdb": "Azure Cosmos DB",
    "maps": "Azure Maps",
}

CLOUD_NAMES: Mapping[Cloud, str] = {"public": "Azure (public cloud)", "china": "Azure China"}

# Azure Maps accounts exist in a handful of locations only. Each maps to the geography endpoint
# (``<geo>.atlas.microsoft.com``) that keeps request processing inside that geography.
MAPS_LOCATIONS: Mapping[str, str] = {
    "eastus": "us",
    "westus2": "us",
    "westcentralus": "us",
    "westeurope": "eu",
    "northeurope": "eu",
}

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
    private_zones: Mapping[str, str]
    """Private DNS zone per private-link target, keyed by our names (iothub, dps, servicebus, ...)."""


DNS: Mapping[Cloud, CloudDns] = {
    "public": CloudDns(
        iothub="azure-devices.net",
        dps="azure-devices-provisioning.net",
        servicebus="servicebus.windows.net",
        blob="blob.core.windows.net",
        cosmos="documents.azure.com",
        private_zones={
            "iothub": "privatelink.azure-devices.net",
            "dps": "privatelink.azure-devices-provisioning.net",
            "servicebus": "privatelink.servicebus.windows.net",
            "blob": "privatelink.blob.core.windows.net",
            "cosmos": "privatelink.documents.azure.com",
        },
    ),
    "china": CloudDns(
        iothub="azure-devices.cn",
        dps="azure-devices-provisioning.cn",
        servicebus="servicebus.chinacloudapi.cn",
        blob="blob.core.chinacloudapi.cn",
        cosmos="documents.azure.cn",
        private_zones={
            "iothub": "privatelink.azure-devices.cn",
            "dps": "privatelink.azure-devices-provisioning.cn",
            "servicebus": "privatelink.servicebus.chinacloudapi.cn",
            "blob": "privatelink.blob.core.chinacloudapi.cn",
            "cosmos": "privatelink.documents.azure.cn",
        },
    ),
}


def find_location(name: str) -> AzureLocation | None:
    """The catalog entry for ``name`` (any spelling), or None if Azure has no such location."""
    return LOCATIONS.get(normalise_location(name))


def locations_in(cloud: Cloud) -> tuple[str, ...]:
    """All location names of one cloud, sorted."""
    return tuple(sorted(loc.name for loc in LOCATIONS.values() if loc.cloud == cloud))


def paired_region(name: str) -> str | None:
    """Where geo-redundant storage in ``name`` replicates to."""
    found = find_location(name)
    return found.pair if found else None


def offers(cloud: Cloud, service: Service) -> bool:
    """Whether ``cloud`` offers ``service`` at all."""
    return service in CLOUD_SERVICES[cloud]


def storage_sku(location: str) -> str:
    """The storage redundancy that keeps data in ``location``: ZRS where zones exist, else LRS.

    Never GRS/RA-GRS/GZRS: those replicate to the paired region, which may leave the boundary.
    """
    found = find_location(location)
    return "Standard_ZRS" if found is not None and found.zones else "Standard_LRS"


def maps_location(boundary: Sequence[str], preferred: str) -> str | None:
    """The location for an Azure Maps account inside ``boundary``: ``preferred`` if Maps exists there,
    else the first boundary location that has Maps, else None (Maps cannot stay in this boundary)."""
    if preferred in MAPS_LOCATIONS:
        return preferred
    return next((loc for loc in boundary if loc in MAPS_LOCATIONS), None)
