"""Facts about azure-native resource types that several rules share.

Type tokens are the azure-native v3 ones (`canonical_type` folds v2 names and API-versioned modules
into these). Property names are the camelCase names the engine passes, checked against the
pulumi-azure-native 3.29 SDK input types.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from policies.facts.props import known
from policies.model import ResourceView, RuleContext, Unverified, is_unknown

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
CONTAINER_REGISTRY = "azure-native:containerregistry:Registry"
WORKSPACE = "azure-native:operationalinsights:Workspace"
USER_ASSIGNED_IDENTITY = "azure-native:managedidentity:UserAssignedIdentity"
COSMOS_SQL_ROLE_ASSIGNMENT = "azure-native:cosmosdb:SqlResourceSqlRoleAssignment"
ROLE_ASSIGNMENT = "azure-native:authorization:RoleAssignment"
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
        CONTAINER_REGISTRY,
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
    CONTAINER_REGISTRY: "registryName",
    WORKSPACE: "workspaceName",
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
        value = known(view.props, key) if key else None
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
    """The resource's own `location` input; None when unset or unknown (the catalog rules' reading:
    residency goes through `Locations`)."""
    return known(view.props, "location")


@dataclass(frozen=True, slots=True)
class Placed:
    """Where azure-native puts a resource: the location it will use (None: none at all) and where
    that came from, or why it cannot be known before deployment (`unverifiable`)."""

    location: Any
    source: str = "location"
    unverifiable: str | None = None


#: azure-native's Check fills a missing `location` (`applyDefaults` -> `getDefaultLocation` in
#: https://github.com/pulumi/pulumi-azure-native/blob/master/provider/pkg/provider/provider.go) on every
#: resource whose PUT body has one: "1. Check if old inputs define a location", "2. Check if the config has
#: a fixed location" (the provider's `location`, `azure-native:location` for the default provider), "3. If
#: there is a link to a resource group, try to use its location" (unknown while the group name is; read from
#: ARM otherwise). A preview's outputs are those checked inputs (`Create` with `preview`: "the preview of
#: outputs using the current inputs"), so `resource_group.location` is known at preview when the provider
#: has a location. The SDK documents the provider's `location` as "The location to use. ResourceGroups will
#: consult this property for a default location".
PROVIDER_DEFAULT = "provider default location (azure-native:location)"


class Locations:
    """Effective locations as azure-native applies them (see `PROVIDER_DEFAULT`): an explicit
    `location`; else its provider's `location`; else, for anything but a resource group, its group's
    location (once the group exists: what `pulumi up` gives it; pulumi/pulumi-azure-native#66,
    "Automatic location propagation"). A group the program does not declare (an existing one, looked
    up) and a value only known at deployment cannot be verified."""

    def __init__(self, resources: Iterable[ResourceView]) -> None:
        self._groups: dict[str, ResourceView] = {}
        for view in resources:
            if view.type == RESOURCE_GROUP:
                for name in physical_names(view):
                    self._groups.setdefault(name, view)

    def of(self, view: ResourceView) -> Placed:
        location = view.props.get("location")
        if location is not None:
            if is_unknown(location):
                return Placed(None, unverifiable="its location is only known at deployment")
            return Placed(location)
        default = view.provider.props.get("location") if view.provider is not None else None
        if default is not None:
            if is_unknown(default):
                return Placed(None, unverifiable="its provider's default location is only known at deployment")
            return Placed(default, PROVIDER_DEFAULT)
        if view.type == RESOURCE_GROUP:
            return Placed(None, "no location and no provider default location (azure-native:location)")
        group_name = view.props.get("resourceGroupName")
        if group_name is None:
            return Placed(None, unverifiable="no location and no resource group to inherit one from")
        if not isinstance(group_name, str) or is_unknown(group_name):
            return Placed(None, unverifiable="no location, and its resource group is only known at deployment")
        group = self._groups.get(arm_name(group_name))
        if group is None:
            return Placed(
                None,
                unverifiable=f"no location, and its resource group '{group_name}' is not declared by this "
                "program (an existing group: its location is not visible to the check)",
            )
        inherited = self.of(group)
        if inherited.unverifiable is not None:
            return Placed(None, unverifiable=f"inherits resource group '{group.name}': {inherited.unverifiable}")
        if inherited.location is None:
            return Placed(None, f"no location, and resource group '{group.name}' has none either")
        return Placed(inherited.location, f"location inherited from resource group '{group.name}'")

    def judge(self, view: ResourceView, said: str, ctx: RuleContext) -> str | None:
        """What is wrong with where `view` (a resource another one points at) sits, as "<said> in 'X',
        outside ..."; `Unverified` when that cannot be known before deployment; None when inside."""
        placed = self.of(view)
        if placed.unverifiable is not None:
            return Unverified(
                f"cannot verify the location of '{view.name}': {placed.unverifiable} (allowed: {ctx.allowed()})"
            )
        if not isinstance(placed.location, str) or not ctx.in_boundary(placed.location):
            shown = repr(placed.location) if placed.location is not None else "no location"
            return f"{said} in {shown}, outside the {ctx.region} boundary (allowed: {ctx.allowed()})"
        return None
