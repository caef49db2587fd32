"""Facts about azure-native resource types that several rules share.

Type tokens are the azure-native v3 ones (`canonical_type` folds v2 names and API-versioned modules
into these). Property names are the camelCase names the engine passes, checked against the
pulumi-azure-native 3.29 SDK input types.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from autocloud.locations import AzureLocation, find_location
from policies.model import ResourceView
from policies.rules._props import get

RESOURCE_GROUP = "azure-native:resources:ResourceGroup"
IOT_HUB = "azure-native:iothub:IotHubResource"
DPS = "azure-native:deviceprovisioningservices:IotDpsResource"
EVENTHUB_NAMESPACE = "azure-native:eventhub:Namespace"
EVENTHUB = "azure-native:eventhub:EventHub"
EVENTHUB_DR = "azure-native:eventhub:DisasterRecoveryConfig"
SERVICEBUS_NAMESPACE = "azure-native:servicebus:Namespace"
COSMOS_ACCOUNT = "azure-native:cosmosdb:DatabaseAccount"
STORAGE_ACCOUNT = "azure-native:storage:StorageAccount"
MAPS_ACCOUNT = "azure-native:maps:Account"
AKS = "azure-native:containerservice:ManagedCluster"
AZURE_NATIVE_PROVIDER = "pulumi:providers:azure-native"
AZURE_CLASSIC_PROVIDER = "pulumi:providers:azure"
AZURE_PROVIDERS = frozenset({AZURE_NATIVE_PROVIDER, AZURE_CLASSIC_PROVIDER})

#: Types that always live in a location (ARM "tracked" resources): a missing `location` means
#: Azure falls back to the resource group's, which no policy can see at preview.
TRACKED_TYPES = frozenset(
    {
        RESOURCE_GROUP,
        IOT_HUB,
        DPS,
        EVENTHUB_NAMESPACE,
        SERVICEBUS_NAMESPACE,
        COSMOS_ACCOUNT,
        STORAGE_ACCOUNT,
        MAPS_ACCOUNT,
        AKS,
        "azure-native:network:VirtualNetwork",
        "azure-native:network:PrivateEndpoint",
        "azure-native:network:NetworkSecurityGroup",
        "azure-native:managedidentity:UserAssignedIdentity",
        "azure-native:keyvault:Vault",
        "azure-native:operationalinsights:Workspace",
    }
)

#: Types whose only valid location is `global` (the service has no region); nothing else may use it.
GLOBAL_TYPES = frozenset(
    {
        "azure-native:privatedns:PrivateZone",
        "azure-native:privatedns:VirtualNetworkLink",
        "azure-native:network:PrivateZone",
        "azure-native:network:VirtualNetworkLink",
        "azure-native:dns:Zone",
        "azure-native:network:Zone",
        "azure-native:network:FrontDoor",
        "azure-native:trafficmanager:Profile",
        "azure-native:network:TrafficManagerProfile",
        "azure-native:monitor:ActionGroup",
        "azure-native:insights:ActionGroup",
    }
)

#: The input that holds the physical (Azure) name, per type; outputs carry it as `name`.
NAME_KEYS: Mapping[str, str] = {
    RESOURCE_GROUP: "resourceGroupName",
    IOT_HUB: "resourceName",
    DPS: "provisioningServiceName",
    EVENTHUB_NAMESPACE: "namespaceName",
    SERVICEBUS_NAMESPACE: "namespaceName",
    COSMOS_ACCOUNT: "accountName",
    STORAGE_ACCOUNT: "accountName",
    MAPS_ACCOUNT: "accountName",
    AKS: "resourceName",
}


def is_azure(view: ResourceView) -> bool:
    """Azure resources (not providers, components or Kubernetes objects)."""
    return view.type.startswith(("azure-native:", "azure:"))


def is_located(view: ResourceView) -> bool:
    """Resources that sit in an Azure location: every type whose SDK class takes `location` (when
    the check knows it), else the tracked types and anything passing `location`."""
    if not is_azure(view):
        return False
    if view.located is not None:
        return view.located or "location" in view.props
    return view.type in TRACKED_TYPES or "location" in view.props


def physical_names(view: ResourceView) -> set[str]:
    """Every name Azure may know the resource by: explicit name input, engine `name` output, and
    the logical name (what the check's mocks and azure-native autonaming start from)."""
    names = {view.name.lower()}
    for key in (NAME_KEYS.get(view.type), "name"):
        value = get(view.props, key) if key else None
        if isinstance(value, str) and value:
            names.add(value.lower())
    return names


def arm_name(reference: str) -> str:
    """The resource name in an ARM id (its last segment), or the reference itself if it is a name."""
    return reference.rstrip("/").rsplit("/", 1)[-1].lower()


def host_label(uri: str) -> str:
    """The first DNS label of an endpoint URI: the account or namespace name Azure puts there
    (``sb://fleet-ns.servicebus.windows.net`` -> ``fleet-ns``)."""
    rest = uri.split("://", 1)[-1]
    return rest.split("/", 1)[0].split(":", 1)[0].split(".", 1)[0].lower()


def connection_string_field(connection_string: str, key: str) -> str | None:
    """One ``Key=Value`` field of an Azure connection string, matched case-insensitively."""
    for part in connection_string.split(";"):
        name, sep, value = part.partition("=")
        if sep and name.strip().lower() == key.lower():
            return value.strip()
    return None


class StackIndex:
    """Resources of a stack by type and physical name, so cross-resource rules can resolve a
    reference (an ARM id, an endpoint host, a name) to the resource it points at."""

    def __init__(self, resources: Iterable[ResourceView]) -> None:
        self._by_type: dict[str, dict[str, ResourceView]] = {}
        for view in resources:
            if not is_azure(view):
                continue
            names = self._by_type.setdefault(view.type, {})
            for name in physical_names(view):
                names.setdefault(name, view)

    def of_type(self, type_: str) -> list[ResourceView]:
        return list({id(view): view for view in self._by_type.get(type_, {}).values()}.values())

    def find(self, types: Sequence[str], name: str) -> ResourceView | None:
        key = name.lower()
        for type_ in types:
            found = self._by_type.get(type_, {}).get(key)
            if found is not None:
                return found
        return None


def location_of(view: ResourceView) -> Any:
    return get(view.props, "location")


def catalog_location(view: ResourceView) -> AzureLocation | None:
    """The region catalog's entry for the resource's ``location`` (None when unset, unknown or not plain)."""
    location = location_of(view)
    return find_location(location) if isinstance(location, str) else None
