"""A Kubernetes ServiceAccount's own Azure identity, through AKS workload identity.

A pod of that ServiceAccount exchanges the token the cluster signs for an Entra ID token of a
user-assigned managed identity. Azure trusts the exchange through a federated credential on the identity
whose issuer is the cluster's OIDC issuer, whose subject is
``system:serviceaccount:<namespace>:<service account>`` and whose audience is
``api://AzureADTokenExchange`` (https://learn.microsoft.com/azure/aks/workload-identity-deploy-cluster,
"Establish federated identity credential"). Azure services then authorize the identity by its roles; no
secret exists anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
from pulumi_azure_native.managedidentity import FederatedIdentityCredential, UserAssignedIdentity

from components.placement import AzurePlacement

TOKEN_AUDIENCE = "api://AzureADTokenExchange"
"""The audience of a federated credential for AKS workload identity (the page above)."""


def service_account_subject(namespace: str, service_account: str) -> str:
    """The subject the cluster's tokens carry for a ServiceAccount, as the federated credential names it."""
    return f"system:serviceaccount:{namespace}:{service_account}"


@dataclass(frozen=True)
class WorkloadIdentityArgs:
    """Which ServiceAccount of which cluster the identity belongs to."""

    placement: AzurePlacement
    """Required. Resource group, location and tags of the identity."""
    oidc_issuer_url: pulumi.Input[str]
    """Required. The cluster's OIDC issuer URL (``ComputeCluster.oidc_issuer_url``)."""
    namespace: str
    """Required. The ServiceAccount's namespace."""
    service_account: str
    """Required. The ServiceAccount's name."""


class WorkloadIdentity(pulumi.ComponentResource):
    """A user-assigned identity that one ServiceAccount of one cluster, and nothing else, can act as."""

    name: pulumi.Output[str]
    resource_id: pulumi.Output[str]
    location: str
    client_id: pulumi.Output[str]
    """What the pod's ``azure.workload.identity/client-id`` annotation names."""
    principal_id: pulumi.Output[str]
    """What role assignments name."""
    federation: FederatedIdentityCredential
    """Depend on it before anything uses the identity from the cluster."""

    def __init__(self, name: str, args: WorkloadIdentityArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("autocloud:identity:WorkloadIdentity", name, None, opts)
        placement = args.placement
        self.location = placement.location
        identity = UserAssignedIdentity(
            f"{name}-identity",
            resource_group_name=placement.resource_group_name,
            location=placement.location,
            tags=dict(placement.tags),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.federation = FederatedIdentityCredential(
            f"{name}-federation",
            resource_group_name=placement.resource_group_name,
            resource_name_=identity.name,
            federated_identity_credential_resource_name=args.service_account,
            issuer=args.oidc_issuer_url,
            subject=service_account_subject(args.namespace, args.service_account),
            audiences=[TOKEN_AUDIENCE],
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.name = identity.name
        self.resource_id = identity.id
        self.client_id = identity.client_id
        self.principal_id = identity.principal_id
        self.register_outputs(
            {
                "name": self.name,
                "resource_id": self.resource_id,
                "location": self.location,
                "client_id": self.client_id,
                "principal_id": self.principal_id,
            }
        )
