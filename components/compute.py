"""Compute on Azure: a private AKS cluster with Entra ID auth, Azure RBAC and an autoscaled user pool.

Ready for workloads: the OIDC issuer and workload identity are on, so each service's ServiceAccount can be
trusted by a federated credential on its own managed identity (:attr:`ComputeCluster.oidc_issuer_url`); the
kubelet runs as a user-assigned identity that holds AcrPull on the region's registry before the cluster
pulls anything. Admins reach the private API server through AKS run command (``az aks command invoke``),
which goes through Azure Resource Manager: ``docs/azure.md``, "Reaching the private cluster".
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_azure_native as azure_native

from components.contracts import ComputeEndpoints
from components.placement import (
    ACR_PULL,
    AKS_CLUSTER_ADMIN_ROLE,
    AKS_RBAC_CLUSTER_ADMIN,
    MANAGED_IDENTITY_OPERATOR,
    NETWORK_CONTRIBUTOR,
    READER,
    AzurePlacement,
    grant_role,
    role_definition_id,
)
from platform_model.sizing import AksPlan

ZONES = ["1", "2", "3"]
LOG_RETENTION_DAYS = 30
CONTAINER_INSIGHTS_STREAM = "Microsoft-ContainerInsights-Group-Default"
WORKSPACE_DESTINATION = "ciworkspace"
KUBELET_IDENTITY_KEY = "kubeletidentity"
"""The only key ``identityProfile`` accepts (ManagedCluster API reference, ``identityProfile``)."""
ADMIN_ROLES: tuple[tuple[str, str], ...] = (
    ("admin", AKS_RBAC_CLUSTER_ADMIN),
    ("run-command", AKS_CLUSTER_ADMIN_ROLE),
    ("run-command-results", READER),
)
"""What each cluster admin holds on the cluster. Run command needs the
``Microsoft.ContainerService/managedClusters/runcommand/action`` and ``managedclusters/commandResults/read``
actions (https://learn.microsoft.com/azure/aks/access-private-cluster, "Before you begin"): the first is in the
Azure Kubernetes Service Cluster Admin Role, the second in no AKS built-in role (Azure/AKS#3462) but in Reader's
``*/read``. Inside the cluster the command runs with the caller's Entra token, so the Kubernetes rights are
those of AKS RBAC Cluster Admin."""


@dataclass(frozen=True)
class ComputeClusterArgs:
    """The region's AKS cluster."""

    placement: AzurePlacement
    """Required. Resource group, location (the profile's primary), cloud, tags."""
    sku: AksPlan
    """Required. VM size, system nodes and user-pool bounds from ``platform_model.sizing``."""
    dns_prefix: str
    """Required. Prefix of the cluster's private API server name."""
    zones: bool
    """Required. Spread pools over availability zones (where the location has them)."""
    service_cidr: str
    """Required. Kubernetes service range, outside the VNet (``profile.network.service_cidr``)."""
    dns_service_ip: str
    """Required. CoreDNS ClusterIP inside ``service_cidr`` (``profile.network.dns_service_ip``)."""
    pod_cidr: str
    """Required. Pod overlay range, outside the VNet and the service range (``profile.network.pod_cidr``)."""
    node_subnet_id: pulumi.Input[str] | None = None
    """Optional, default None: AKS creates its own VNet. Set it so pods reach the private endpoints."""
    cluster_admins: Sequence[str] = ()
    """Optional, default the identity running the deployment. Entra object ids given "Azure Kubernetes
    Service RBAC Cluster Admin": local accounts are off, so only Azure RBAC grants kubectl access. They also
    get what AKS run command needs (:data:`ADMIN_ROLES`), their way in to the private API server."""
    registry_id: pulumi.Input[str] | None = None
    """Optional, default None: no registry. The region's container registry; the kubelet identity gets AcrPull
    on it before the cluster is created, so the first pull already has the right."""


class ComputeCluster(pulumi.ComponentResource):
    """Private AKS: no public API server, no local accounts, Entra ID + Azure RBAC, Log Analytics.

    The control plane runs as a user-assigned identity that gets Network Contributor on the node subnet
    and Managed Identity Operator on the kubelet identity before the cluster is created (a system-assigned
    identity would not exist yet). The kubelet runs as its own user-assigned identity, granted AcrPull on
    the region's registry before the cluster is created too.
    """

    name: pulumi.Output[str]
    resource_id: pulumi.Output[str]
    location: str
    workspace_id: pulumi.Output[str]
    oidc_issuer_url: pulumi.Output[str]
    """The cluster's OIDC issuer, the ``issuer`` of every workload's federated identity credential."""
    kubelet_principal_id: pulumi.Output[str]
    """The kubelet identity's object id: what pulls images from the registry."""
    endpoints: pulumi.Output[ComputeEndpoints]

    def __init__(self, name: str, args: ComputeClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("autocloud:compute:ComputeCluster", name, None, opts)
        placement = args.placement
        self.location = placement.location

        workspace = self._build_workspace(name, placement)
        identity = self._build_identity(f"{name}-identity", placement)
        kubelet = self._build_identity(f"{name}-kubelet", placement)
        waits = [
            *self._build_subnet_access(name, args, identity),
            *self._build_kubelet_access(name, args, identity, kubelet),
        ]
        cluster = self._build_cluster(name, args, identity, kubelet, workspace, waits)
        self._build_container_insights(name, placement, workspace.id, cluster.id)
        self._build_cluster_admins(name, args, cluster)

        self.name = cluster.name
        self.resource_id = cluster.id
        self.workspace_id = workspace.id
        self.oidc_issuer_url = cluster.oidc_issuer_profile.apply(_issuer_url)
        self.kubelet_principal_id = kubelet.principal_id
        self.endpoints = cluster.private_fqdn.apply(lambda fqdn: ComputeEndpoints(api_server=fqdn or ""))
        self.register_outputs(
            {
                "name": self.name,
                "resource_id": self.resource_id,
                "location": self.location,
                "workspace_id": self.workspace_id,
                "oidc_issuer_url": self.oidc_issuer_url,
                "kubelet_principal_id": self.kubelet_principal_id,
                "endpoints": self.endpoints,
            }
        )

    def _build_identity(
        self, name: str, placement: AzurePlacement
    ) -> azure_native.managedidentity.UserAssignedIdentity:
        return azure_native.managedidentity.UserAssignedIdentity(
            name,
            resource_group_name=placement.resource_group_name,
            location=placement.location,
            tags=dict(placement.tags),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _build_workspace(self, name: str, placement: AzurePlacement) -> azure_native.operationalinsights.Workspace:
        return azure_native.operationalinsights.Workspace(
            f"{name}-logs",
            resource_group_name=placement.resource_group_name,
            location=placement.location,
            sku={"name": "PerGB2018"},
            retention_in_days=LOG_RETENTION_DAYS,
            features={"disable_local_auth": True},
            # Entra ID only (no workspace keys). Closing ingestion or query to the internet needs an Azure
            # Monitor Private Link Scope, without which nobody can query a query-Disabled workspace
            # (https://learn.microsoft.com/azure/azure-monitor/logs/private-link-security); queries are
            # authorized by Azure RBAC on the workspace instead.
            public_network_access_for_ingestion="Enabled",
            public_network_access_for_query="Enabled",
            tags=dict(placement.tags),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _build_subnet_access(
        self,
        name: str,
        args: ComputeClusterArgs,
        identity: azure_native.managedidentity.UserAssignedIdentity,
    ) -> list[pulumi.Resource]:
        """Network Contributor on the node subnet for the cluster identity: what the cluster waits for."""
        if args.node_subnet_id is None:
            return []
        subnet_id = pulumi.Output.from_input(args.node_subnet_id)
        return [grant_role(f"{name}-subnet-access", self, subnet_id, identity.principal_id, NETWORK_CONTRIBUTOR)]

    def _build_kubelet_access(
        self,
        name: str,
        args: ComputeClusterArgs,
        identity: azure_native.managedidentity.UserAssignedIdentity,
        kubelet: azure_native.managedidentity.UserAssignedIdentity,
    ) -> list[pulumi.Resource]:
        """What the cluster waits for so its kubelet identity works from the first node on.

        The control plane assigns the kubelet identity to the nodes: "For a user-assigned kubelet identity
        outside the default worker node resource group, you need to assign the Managed Identity Operator role
        on the kubelet identity for control plane managed identity"
        (https://learn.microsoft.com/azure/aks/managed-identity-overview, "Pre-created kubelet managed
        identity"; https://learn.microsoft.com/azure/aks/pre-created-kubelet-managed-identity). The kubelet
        pulls images with AcrPull on the registry, granted before the cluster (the same article, "Assign an
        RBAC role to the kubelet managed identity", precedes "Enable a kubelet managed identity on a new AKS
        cluster").
        """
        grants: list[pulumi.Resource] = [
            grant_role(f"{name}-kubelet-operator", self, kubelet.id, identity.principal_id, MANAGED_IDENTITY_OPERATOR)
        ]
        if args.registry_id is not None:
            registry_id = pulumi.Output.from_input(args.registry_id)
            grants.append(grant_role(f"{name}-kubelet-pull", self, registry_id, kubelet.principal_id, ACR_PULL))
        return grants

    def _build_cluster(
        self,
        name: str,
        args: ComputeClusterArgs,
        identity: azure_native.managedidentity.UserAssignedIdentity,
        kubelet: azure_native.managedidentity.UserAssignedIdentity,
        workspace: azure_native.operationalinsights.Workspace,
        depends_on: list[pulumi.Resource],
    ) -> azure_native.containerservice.ManagedCluster:
        """Private API server, no local accounts, Entra ID + Azure RBAC, Cilium overlay, Container insights,
        OIDC issuer and workload identity, a user-assigned kubelet identity."""
        placement = args.placement
        return azure_native.containerservice.ManagedCluster(
            f"{name}-aks",
            resource_group_name=placement.resource_group_name,
            location=placement.location,
            dns_prefix=args.dns_prefix,
            sku={"name": "Base", "tier": "Standard"},
            identity={
                "type": azure_native.containerservice.ResourceIdentityType.USER_ASSIGNED,
                "user_assigned_identities": [identity.id],
            },
            # A pre-created kubelet identity "must be a user-assigned managed identity"; AKS does not support it
            # in China East and China North (https://learn.microsoft.com/azure/aks/pre-created-kubelet-managed-identity,
            # "Limitations"): the China profile's primary is China North 3.
            identity_profile={
                KUBELET_IDENTITY_KEY: {
                    "resource_id": kubelet.id,
                    "client_id": kubelet.client_id,
                    "object_id": kubelet.principal_id,
                }
            },
            agent_pool_profiles=_agent_pools(args),
            aad_profile={"managed": True, "enable_azure_rbac": True},
            enable_rbac=True,
            disable_local_accounts=True,
            api_server_access_profile={
                "enable_private_cluster": True,
                "enable_private_cluster_public_fqdn": False,
                "private_dns_zone": "system",
                # Run command is the admins' way in (docs/azure.md); `disableRunCommand: true` would close it
                # (https://learn.microsoft.com/azure/aks/access-private-cluster, "Disable Run command").
                "disable_run_command": False,
            },
            # The API server stays private through `enablePrivateCluster`. `publicNetworkAccess: Disabled` is a
            # separate switch that blocks inbound traffic to the whole managed cluster, not only the API server:
            # its portal help text suggests it closes the ARM operations too and it blocked kubectl
            # (https://github.com/Azure/AKS/issues/4220); AKS support: with a private cluster "there's no value in
            # using the public network access - your API server is already as private as we can make it", and it
            # refuses userDefinedRouting outbound (https://github.com/Azure/AKS/issues/3690).
            public_network_access=azure_native.containerservice.PublicNetworkAccess.ENABLED,
            # Workload identity needs the OIDC issuer: a federated credential on each service's managed identity
            # trusts the issuer for one ServiceAccount (https://learn.microsoft.com/azure/aks/use-oidc-issuer,
            # https://learn.microsoft.com/azure/aks/workload-identity-deploy-cluster). Once on, the issuer
            # cannot be turned off ("disabling it is not supported", use-oidc-issuer).
            oidc_issuer_profile={"enabled": True},
            security_profile={"workload_identity": {"enabled": True}},
            network_profile={
                "network_plugin": "azure",
                "network_plugin_mode": "overlay",
                "network_dataplane": "cilium",
                "network_policy": "cilium",
                # Left unset, AKS takes 10.0.0.0/16 and 10.0.0.10 and refuses a VNet in that range
                # (ServiceCidrOverlapExistingSubnetsCidr); the profile's network plan keeps them apart.
                "service_cidr": args.service_cidr,
                "dns_service_ip": args.dns_service_ip,
                "pod_cidr": args.pod_cidr,
            },
            auto_upgrade_profile={"upgrade_channel": "patch"},
            addon_profiles={
                "omsagent": {
                    "enabled": True,
                    "config": {"logAnalyticsWorkspaceResourceID": workspace.id, "useAADAuth": "true"},
                }
            },
            tags=dict(placement.tags),
            opts=pulumi.ResourceOptions(parent=self, depends_on=depends_on),
        )

    def _build_cluster_admins(
        self, name: str, args: ComputeClusterArgs, cluster: azure_native.containerservice.ManagedCluster
    ) -> None:
        """:data:`ADMIN_ROLES` for each given admin, or for the deploying identity when none is given."""
        admins: list[pulumi.Input[str]] = list(args.cluster_admins)
        if not admins:
            admins.append(
                azure_native.authorization.get_client_config_output(
                    opts=pulumi.InvokeOutputOptions(parent=self)
                ).object_id
            )
        for index, admin in enumerate(admins):
            for part, role in ADMIN_ROLES:
                azure_native.authorization.RoleAssignment(
                    f"{name}-{part}-{index}",
                    scope=cluster.id,
                    principal_id=admin,
                    role_definition_id=cluster.id.apply(functools.partial(role_definition_id, role_guid=role)),
                    opts=pulumi.ResourceOptions(parent=self),
                )

    def _build_container_insights(
        self, name: str, placement: AzurePlacement, workspace_id: pulumi.Output[str], cluster_id: pulumi.Output[str]
    ) -> None:
        """The data collection rule and its association that Container insights with ``useAADAuth``
        (Azure Monitor Agent) needs: without them the add-on runs and nothing is collected
        (https://learn.microsoft.com/azure/azure-monitor/containers/kubernetes-monitoring-enable, its
        ARM/Bicep templates: a Linux DCR with the ContainerInsights extension and the
        ``Microsoft-ContainerInsights-Group-Default`` stream, associated with the cluster)."""
        child = pulumi.ResourceOptions(parent=self)
        rule = azure_native.monitor.DataCollectionRule(
            f"{name}-insights",
            resource_group_name=placement.resource_group_name,
            location=placement.location,
            kind="Linux",
            data_sources={
                "extensions": [
                    {
                        "name": "ContainerInsightsExtension",
                        "extension_name": "ContainerInsights",
                        "streams": [CONTAINER_INSIGHTS_STREAM],
                        "extension_settings": {
                            "dataCollectionSettings": {
                                "interval": "1m",
                                "namespaceFilteringMode": "Off",
                                "enableContainerLogV2": True,
                            }
                        },
                    }
                ]
            },
            destinations={"log_analytics": [{"name": WORKSPACE_DESTINATION, "workspace_resource_id": workspace_id}]},
            data_flows=[{"streams": [CONTAINER_INSIGHTS_STREAM], "destinations": [WORKSPACE_DESTINATION]}],
            tags=dict(placement.tags),
            opts=child,
        )
        azure_native.monitor.DataCollectionRuleAssociation(
            f"{name}-insights-association",
            association_name="ContainerInsightsExtension",
            resource_uri=cluster_id,
            data_collection_rule_id=rule.id,
            opts=child,
        )


def _issuer_url(profile: azure_native.containerservice.outputs.ManagedClusterOIDCIssuerProfileResponse | None) -> str:
    """The issuer Azure reports (``oidcIssuerProfile.issuerURL``), or "" where it has none yet."""
    return (profile.issuer_url or "") if profile is not None else ""


def _agent_pools(
    args: ComputeClusterArgs,
) -> list[azure_native.containerservice.ManagedClusterAgentPoolProfileArgsDict]:
    """A tainted system pool for critical add-ons and an autoscaled user pool, same VM size and zones."""
    common: azure_native.containerservice.ManagedClusterAgentPoolProfileArgsDict = {
        "name": "",
        "vm_size": args.sku.vm_size,
        "os_type": "Linux",
        "availability_zones": ZONES if args.zones else None,
        "vnet_subnet_id": args.node_subnet_id,
        "enable_node_public_ip": False,
    }
    return [
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
    ]
