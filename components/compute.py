"""Compute on Azure: a private AKS cluster with Entra ID auth, Azure RBAC and an autoscaled user pool."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_azure_native as azure_native

from autocloud.sizing import AksPlan
from components.contracts import ComputeEndpoints
from components.placement import NETWORK_CONTRIBUTOR, AzurePlacement, grant_role

ZONES = ["1", "2", "3"]
LOG_RETENTION_DAYS = 30


@dataclass(frozen=True)
class ComputeClusterArgs:
    """The region's AKS cluster."""

    placement: AzurePlacement
    """Required. Resource group, location (the profile's primary), cloud, tags."""
    sku: AksPlan
    """Required. VM size, system nodes and user-pool bounds from ``autocloud.sizing``."""
    dns_prefix: str
    """Required. Prefix of the cluster's private API server name."""
    zones: bool
    """Required. Spread pools over availability zones (where the location has them)."""
    node_subnet_id: pulumi.Input[str] | None = None
    """Optional, default None: AKS creates its own VNet. Set it so pods reach the private endpoints."""


class ComputeCluster(pulumi.ComponentResource):
    """Private AKS: no public API server, no local accounts, Entra ID + Azure RBAC, Log Analytics.

    The cluster runs as a user-assigned identity that gets Network Contributor on the node subnet
    before the cluster is created (a system-assigned identity would not exist yet).
    """

    name: pulumi.Output[str]
    resource_id: pulumi.Output[str]
    location: str
    workspace_id: pulumi.Output[str]
    endpoints: pulumi.Output[ComputeEndpoints]

    def __init__(self, name: str, args: ComputeClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("autocloud:compute:ComputeCluster", name, None, opts)
        placement = args.placement
        self.location = placement.location
        child = pulumi.ResourceOptions(parent=self)
        rg = placement.resource_group_name
        tags = dict(placement.tags)

        workspace = azure_native.operationalinsights.Workspace(
            f"{name}-logs",
            resource_group_name=rg,
            location=placement.location,
            sku={"name": "PerGB2018"},
            retention_in_days=LOG_RETENTION_DAYS,
            features={"disable_local_auth": True},
            # Node agents ingest over Entra ID; closing ingestion needs an Azure Monitor private link scope.
            public_network_access_for_ingestion="Enabled",
            public_network_access_for_query="Disabled",
            tags=tags,
            opts=child,
        )
        identity = azure_native.managedidentity.UserAssignedIdentity(
            f"{name}-identity", resource_group_name=rg, location=placement.location, tags=tags, opts=child
        )
        depends_on: list[pulumi.Resource] = []
        if args.node_subnet_id is not None:
            subnet_id = pulumi.Output.from_input(args.node_subnet_id)
            depends_on.append(
                grant_role(f"{name}-subnet-access", self, subnet_id, identity.principal_id, NETWORK_CONTRIBUTOR)
            )

        zones = ZONES if args.zones else None
        common: azure_native.containerservice.ManagedClusterAgentPoolProfileArgsDict = {
            "name": "",
            "vm_size": args.sku.vm_size,
            "os_type": "Linux",
            "availability_zones": zones,
            "vnet_subnet_id": args.node_subnet_id,
            "enable_node_public_ip": False,
        }
        cluster = azure_native.containerservice.ManagedCluster(
            f"{name}-aks",
            resource_group_name=rg,
            location=placement.location,
            dns_prefix=args.dns_prefix,
            sku={"name": "Base", "tier": "Standard"},
            identity={
                "type": azure_native.containerservice.ResourceIdentityType.USER_ASSIGNED,
                "user_assigned_identities": [identity.id],
            },
            agent_pool_profiles=[
                common
                | {
                    "name": "system",
                    "mode": "System",
                    "count": args.sku.system_nodes,
                    "node_taints": ["CriticalAddonsOnly=true:NoSchedule"],
                },
                common
                | {
                    "name": "user",
                    "mode": "User",
                    "enable_auto_scaling": True,
                    "count": args.sku.user_min_nodes,
                    "min_count": args.sku.user_min_nodes,
                    "max_count": args.sku.user_max_nodes,
                },
            ],
            aad_profile={"managed": True, "enable_azure_rbac": True},
            enable_rbac=True,
            disable_local_accounts=True,
            api_server_access_profile={
                "enable_private_cluster": True,
                "enable_private_cluster_public_fqdn": False,
                "private_dns_zone": "system",
            },
            public_network_access="Disabled",
            network_profile={
                "network_plugin": "azure",
                "network_plugin_mode": "overlay",
                "network_dataplane": "cilium",
                "network_policy": "cilium",
            },
            auto_upgrade_profile={"upgrade_channel": "patch"},
            addon_profiles={
                "omsagent": {
                    "enabled": True,
                    "config": {"logAnalyticsWorkspaceResourceID": workspace.id, "useAADAuth": "true"},
                }
            },
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=depends_on),
        )

        self.name = cluster.name
        self.resource_id = cluster.id
        self.workspace_id = workspace.id
        self.endpoints = cluster.private_fqdn.apply(lambda fqdn: ComputeEndpoints(api_server=fqdn or ""))
        self.register_outputs(
            {
                "name": self.name,
                "resource_id": self.resource_id,
                "location": self.location,
                "workspace_id": self.workspace_id,
                "endpoints": self.endpoints,
            }
        )
