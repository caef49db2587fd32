"""Services on the private AKS cluster, delivered by the cluster's GitOps (Flux v2) extension.

The cluster's API server has no public address, so ``pulumi up`` cannot apply manifests to it. Instead
the stack writes the rendered manifests (``components.workloads``, the same renderer the local target
applies) as one YAML blob into a storage container, and the ``microsoft.flux`` cluster extension pulls
that blob from inside the cluster and applies it: a pull-based delivery, nothing reaches in
(https://learn.microsoft.com/azure/azure-arc/kubernetes/conceptual-gitops-flux2). Both the extension
and the Flux configuration are ARM resources (``Microsoft.KubernetesConfiguration/extensions`` and
``fluxConfigurations``), so the deploying machine talks only to Azure Resource Manager and to the
source's blob endpoint. Why this path and what it costs: ``docs/azure.md``, "Delivering services to the
private cluster".

Flux reads the blob as its own user-assigned identity through AKS workload identity: the extension is
configured with ``workloadIdentity.enable`` and the identity's client id, and a federated credential
trusts the cluster's OIDC issuer for the ``flux-system:source-controller`` ServiceAccount
(https://learn.microsoft.com/azure/azure-arc/kubernetes/tutorial-use-gitops-flux2, "Workload identity
in AKS clusters"). That identity holds Storage Blob Data Reader on the container only, the minimum the
``azblob`` source needs (https://learn.microsoft.com/azure/azure-arc/kubernetes/gitops-flux2-parameters,
"Azure Blob Storage"). The cluster reads the account through a private endpoint in the region's VNet.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_azure_native as azure_native
import yaml

from components.entra_blob import EntraBlob, EntraBlobArgs
from components.identity import WorkloadIdentity, WorkloadIdentityArgs
from components.placement import (
    STORAGE_BLOB_DATA_CONTRIBUTOR,
    AzurePlacement,
    grant_role,
    role_definition_id,
)
from components.private_link import private_endpoint
from platform_model.locations import storage_sku

STORAGE_BLOB_DATA_READER = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"
"""Storage Blob Data Reader (https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/storage)."""
FLUX_EXTENSION_TYPE = "microsoft.flux"
FLUX_NAMESPACE = "flux-system"
"""Where the extension's controllers run and where the Flux configuration's source and kustomization live."""
FLUX_SOURCE_CONTROLLER = "source-controller"
"""The Flux controller that downloads sources; its ServiceAccount is the federated credential's subject."""
CLUSTER_RP = "Microsoft.ContainerService"
CLUSTER_RESOURCE = "managedClusters"
SOURCE_CONTAINER = "manifests"
MANIFEST_FILE = "services.yaml"
SYNC_INTERVAL_SECONDS = 120


@dataclass(frozen=True)
class ServiceDeliveryArgs:
    """What to deliver to which cluster, and where the source the cluster pulls from lives."""

    placement: AzurePlacement
    """Required. The region's resource group, location, cloud and tags; ``private_endpoint_subnet_id`` and the
    ``blob`` private DNS zone put the source behind a private endpoint the cluster reaches."""
    cluster_name: pulumi.Input[str]
    """Required. The AKS cluster's resource name (in ``placement.resource_group_name``)."""
    oidc_issuer_url: pulumi.Input[str]
    """Required. The cluster's OIDC issuer URL, trusted by the Flux identity's federated credential."""
    namespace: str
    """Required. The region namespace (``platform_model.vocabulary.region_namespace``), created by the delivery."""
    namespace_labels: Mapping[str, str]
    """Required. The region labels the namespace carries (``contracts.region_labels``), as on the local target."""
    manifests: Sequence[Mapping[str, Any]]
    """Required. The rendered manifests (``components.workloads.render_workload``); values may be outputs."""
    storage_account_name: str
    """Required. Globally unique name of the source's storage account (``placement.storage_account_name``)."""
    deployer_ip_ranges: Sequence[str] = ()
    """Optional, default none: only machines that reach the private endpoint can write the blob. Public IPv4
    addresses or CIDR ranges of the machines that run ``pulumi up``, let through the source account's firewall
    (writing a blob needs the data plane, not just ARM); the baseline rule ``baseline-public-network-access``
    refuses an account with IP rules (``docs/azure.md``)."""
    sync_interval_seconds: int = SYNC_INTERVAL_SECONDS
    """Optional, default 120. How often Flux checks the source and re-applies the manifests."""


def manifests_yaml(manifests: Sequence[Mapping[str, Any]]) -> str:
    """One multi-document YAML file, objects in the given order (Flux sorts by kind before applying)."""
    return yaml.safe_dump_all([_plain(m) for m in manifests], sort_keys=False, default_flow_style=False)


def _plain(value: Any) -> Any:
    """Mappings and sequences as dicts and lists, which ``yaml.safe_dump`` accepts."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def namespace_manifest(namespace: str, labels: Mapping[str, str]) -> dict[str, Any]:
    """The region namespace with its region labels, delivered first."""
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace, "labels": dict(labels)}}


class ServiceDelivery(pulumi.ComponentResource):
    """The region's services on its private AKS cluster, through the Flux extension and a blob source."""

    name: pulumi.Output[str]
    resource_id: pulumi.Output[str]
    location: str
    source_url: pulumi.Output[str]
    manifest_url: pulumi.Output[str]
    """The blob Flux applies: ``<source_url>/manifests/<namespace>/services.yaml``."""
    flux_configuration_name: str
    manifest_path: str
    identity_client_id: pulumi.Output[str]
    manifest: pulumi.Output[str]

    def __init__(self, name: str, args: ServiceDeliveryArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("autocloud:delivery:ServiceDelivery", name, None, opts)
        placement = args.placement
        self.location = placement.location
        self.flux_configuration_name = f"{args.namespace}-services"
        self.manifest_path = f"{args.namespace}/{MANIFEST_FILE}"

        identity = WorkloadIdentity(
            f"{name}-flux",
            WorkloadIdentityArgs(placement, args.oidc_issuer_url, FLUX_NAMESPACE, FLUX_SOURCE_CONTROLLER),
            pulumi.ResourceOptions(parent=self),
        )
        account, container = self._build_source(name, args)
        reader = grant_role(
            f"{name}-source-reader", self, container.id, identity.principal_id, STORAGE_BLOB_DATA_READER
        )
        everything = [namespace_manifest(args.namespace, args.namespace_labels), *args.manifests]
        self.manifest = pulumi.Output.from_input(everything).apply(manifests_yaml)
        writer = self._grant_deployer(name, container)
        blob = EntraBlob(
            f"{name}-manifests",
            EntraBlobArgs(
                account_name=account.name,
                blob_suffix=placement.dns.blob,
                container_name=container.name,
                blob_name=self.manifest_path,
                content=self.manifest,
                content_type="application/yaml",
            ),
            pulumi.ResourceOptions(parent=self, depends_on=[writer]),
        )
        extension = azure_native.kubernetesconfiguration.Extension(
            f"{name}-flux",
            resource_group_name=placement.resource_group_name,
            cluster_rp=CLUSTER_RP,
            cluster_resource_name=CLUSTER_RESOURCE,
            cluster_name=args.cluster_name,
            extension_name="flux",
            extension_type=FLUX_EXTENSION_TYPE,
            auto_upgrade_minor_version=True,
            scope={"cluster": {"release_namespace": FLUX_NAMESPACE}},
            configuration_settings={
                "workloadIdentity.enable": "true",
                "workloadIdentity.azureClientId": identity.client_id,
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[identity.federation]),
        )
        self.source_url = account.name.apply(lambda n: f"https://{n}.{placement.dns.blob}")
        self.manifest_url = self.source_url.apply(lambda u: f"{u}/{SOURCE_CONTAINER}/{self.manifest_path}")
        config = azure_native.kubernetesconfiguration.FluxConfiguration(
            f"{name}-config",
            resource_group_name=placement.resource_group_name,
            cluster_rp=CLUSTER_RP,
            cluster_resource_name=CLUSTER_RESOURCE,
            cluster_name=args.cluster_name,
            flux_configuration_name=self.flux_configuration_name,
            namespace=FLUX_NAMESPACE,
            scope="cluster",
            source_kind="AzureBlob",
            azure_blob={
                "url": self.source_url,
                "container_name": container.name,
                "managed_identity": {"client_id": identity.client_id},
                "sync_interval_in_seconds": args.sync_interval_seconds,
            },
            kustomizations={
                "services": {
                    "path": f"./{args.namespace}",
                    # Objects removed from the source are removed from the cluster: the blob is the whole truth.
                    "prune": True,
                    "wait": True,
                    "sync_interval_in_seconds": args.sync_interval_seconds,
                }
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[extension, reader, blob]),
        )

        self.name = config.name
        self.resource_id = config.id
        self.identity_client_id = identity.client_id
        self.register_outputs(
            {
                "name": self.name,
                "resource_id": self.resource_id,
                "location": self.location,
                "source_url": self.source_url,
                "manifest_url": self.manifest_url,
                "flux_configuration_name": self.flux_configuration_name,
                "manifest_path": self.manifest_path,
                "identity_client_id": self.identity_client_id,
            }
        )

    def _grant_deployer(
        self, name: str, container: azure_native.storage.BlobContainer
    ) -> azure_native.authorization.RoleAssignment:
        """Storage Blob Data Contributor on the container for whoever runs ``pulumi up`` (a user, a service
        principal or a managed identity: no principal type is given), so the blob is written with Entra ID."""
        deployer = azure_native.authorization.get_client_config_output(opts=pulumi.InvokeOutputOptions(parent=self))
        return azure_native.authorization.RoleAssignment(
            f"{name}-deployer-writes",
            scope=container.id,
            principal_id=deployer.object_id,
            role_definition_id=container.id.apply(lambda s: role_definition_id(s, STORAGE_BLOB_DATA_CONTRIBUTOR)),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _build_source(
        self, name: str, args: ServiceDeliveryArgs
    ) -> tuple[azure_native.storage.StorageAccount, azure_native.storage.BlobContainer]:
        """The storage account and container Flux reads, private to the VNet and the deploying machines."""
        placement = args.placement
        account = azure_native.storage.StorageAccount(
            f"{name}-source",
            account_name=args.storage_account_name,
            resource_group_name=placement.resource_group_name,
            location=placement.location,
            sku={"name": storage_sku(placement.location)},
            kind="StorageV2",
            allow_blob_public_access=False,
            # Both sides use Entra ID: the stack writes the blob as the deploying identity (EntraBlob), Flux reads
            # it as its own identity. No key is needed anywhere.
            allow_shared_key_access=False,
            allow_cross_tenant_replication=False,
            enable_https_traffic_only=True,
            minimum_tls_version="TLS1_2",
            # Selected networks: the deploying machines' addresses; the cluster comes in by the private endpoint.
            public_network_access="Enabled",
            network_rule_set=azure_native.storage.NetworkRuleSetArgs(
                default_action=azure_native.storage.DefaultAction.DENY,
                bypass="None",
                ip_rules=[
                    azure_native.storage.IPRuleArgs(i_p_address_or_range=r, action=azure_native.storage.Action.ALLOW)
                    for r in args.deployer_ip_ranges
                ],
                virtual_network_rules=[],
            ),
            tags=dict(placement.tags),
            opts=pulumi.ResourceOptions(parent=self),
        )
        container = azure_native.storage.BlobContainer(
            f"{name}-source-container",
            resource_group_name=placement.resource_group_name,
            account_name=account.name,
            container_name=SOURCE_CONTAINER,
            public_access=azure_native.storage.PublicAccess.NONE,
            opts=pulumi.ResourceOptions(parent=self),
        )
        private_endpoint(f"{name}-source-endpoint", self, placement, account.id, "blob", ("blob",))
        return account, container
