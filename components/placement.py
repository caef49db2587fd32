"""Azure wiring shared by the azure components: where resources go, their names and their role grants.

RegionalPlatform builds one :class:`AzurePlacement` per region; each component takes it as
``args.placement`` and never looks anything up itself.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_azure_native as azure_native

from platform_model.locations import DNS, CloudDns
from platform_model.vocabulary import Cloud

# Built-in role definition GUIDs (identical in the public cloud and Azure China), each from Microsoft's
# built-in roles page: https://learn.microsoft.com/azure/role-based-access-control/built-in-roles (its
# "containers", "identity" and "general" sections for the roles below the first five).
EVENT_HUBS_DATA_SENDER = "2b629674-e913-4c01-ae53-ef4638d8f975"
EVENT_HUBS_DATA_RECEIVER = "a638d3c7-ab3a-418d-83e6-5f17a39d4fde"
"""Azure Event Hubs Data Receiver, "Allows receive access to Azure Event Hubs resources" (built-in roles,
Analytics): the state writer reads, and may neither send nor manage."""
STORAGE_BLOB_DATA_CONTRIBUTOR = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"
NETWORK_CONTRIBUTOR = "4d97b98b-1d4f-4787-a291-c67834d212e7"
AKS_RBAC_CLUSTER_ADMIN = "b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b"
"""Azure Kubernetes Service RBAC Cluster Admin (learn.microsoft.com/azure/role-based-access-control/built-in-roles)."""
ACR_PULL = "7f951dda-4ed3-4680-a7ca-43fe172d538d"
"""AcrPull: ``Microsoft.ContainerRegistry/registries/pull/read`` only (built-in roles, Containers)."""
MANAGED_IDENTITY_OPERATOR = "f1a07417-d97a-45cb-824c-7a7467783830"
"""Managed Identity Operator, "Read and Assign User Assigned Identity" (built-in roles, Identity)."""
AKS_CLUSTER_ADMIN_ROLE = "0ab0b1a8-8aac-4efd-b8c2-3ee1fb270be8"
"""Azure Kubernetes Service Cluster Admin Role: the one built-in role whose actions include
``Microsoft.ContainerService/managedClusters/runcommand/action`` (built-in roles, Containers). Its other
actions list the cluster's local admin credentials, which ``disableLocalAccounts`` turns off."""
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
"""Reader, actions ``*/read`` (built-in roles, General): covers ``managedClusters/commandResults/read``, which
the Cluster Admin Role lacks (Azure/AKS#3462)."""


@dataclass(frozen=True)
class AzurePlacement:
    """Where a component's resources go and how they are tagged and reached."""

    resource_group_name: pulumi.Input[str]
    """Required. The region's resource group."""
    location: str
    """Required. Plain location string from the profile (never ``resource_group.location``)."""
    cloud: Cloud
    """Required. ``public`` or ``china``: picks DNS suffixes and private DNS zones."""
    tags: Mapping[str, str]
    """Required. Tags for every taggable resource (``contracts.region_tags``)."""
    private_endpoint_subnet_id: pulumi.Input[str] | None = None
    """Optional, default None: no private endpoints (public access stays disabled regardless)."""
    private_dns_zone_ids: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Optional. Private DNS zone id per ``CloudDns.private_zones`` key."""

    @property
    def dns(self) -> CloudDns:
        return DNS[self.cloud]


def unique_suffix(*parts: str, length: int = 8) -> str:
    """A stable suffix for globally unique names that Azure does not let us autoname (storage accounts).

    Derived from the organization, project, stack and the given parts, so a stack keeps its names
    across runs while two stacks never collide.
    """
    organization = pulumi.get_organization() or ""
    seed = "/".join((organization, pulumi.get_project(), pulumi.get_stack(), *parts))
    return hashlib.sha256(seed.encode()).hexdigest()[:length]


def storage_account_name(region: str, role: str, unit: int) -> str:
    """3-24 lowercase letters and digits: ``ac<region><role><unit><hash>``."""
    stem = "".join(ch for ch in f"ac{region[:6]}{role[:4]}{unit}" if ch.isalnum()).lower()
    return (stem + unique_suffix(region, role, str(unit), length=24))[:24]


def container_registry_name(region: str) -> str:
    """5-50 letters and digits, globally unique: ``ac<region>images<hash>`` (Azure Container Registry names
    "must contain only alphanumeric characters, be globally unique, and between 5 and 50 characters in
    length", https://learn.microsoft.com/rest/api/containerregistry/registries/check-name-availability)."""
    stem = "".join(ch for ch in f"ac{region[:10]}images" if ch.isalnum()).lower()
    return stem + unique_suffix(region, "registry", length=16)


def eventhub_namespace_name(region: str, unit: int) -> str:
    """A plain, stable, globally unique Event Hubs namespace name (6-50 letters, digits and hyphens,
    starting with a letter): ``ac-<region>-stream-<unit>-<hash>``. Plain so that the namespace's
    network rule set names it at preview and the firewall policy can judge it before anything exists."""
    stem = f"ac-{region[:10]}-stream-{unit}"
    return f"{stem}-{unique_suffix(region, 'stream', str(unit))}"


def role_definition_id(scope_id: str, role_guid: str) -> str:
    """Subscription-scoped role definition id, taking the subscription from the scope's resource id."""
    parts = scope_id.split("/")
    if len(parts) > 2 and parts[1].lower() == "subscriptions":
        return f"/subscriptions/{parts[2]}/providers/Microsoft.Authorization/roleDefinitions/{role_guid}"
    return f"/providers/Microsoft.Authorization/roleDefinitions/{role_guid}"


def grant_role(
    name: str,
    parent: pulumi.Resource,
    scope: pulumi.Output[str],
    principal_id: pulumi.Input[str],
    role_guid: str,
) -> azure_native.authorization.RoleAssignment:
    """Give a managed identity one built-in role on one resource (least privilege, no keys)."""
    return azure_native.authorization.RoleAssignment(
        name,
        scope=scope,
        principal_id=principal_id,
        principal_type="ServicePrincipal",
        role_definition_id=scope.apply(lambda s: role_definition_id(s, role_guid)),
        opts=pulumi.ResourceOptions(parent=parent),
    )
