"""Container images on Azure: one private Azure Container Registry per region, pulled by the cluster's kubelet.

The region's services run from images in its own registry (Azure China's own in China), so no image pull
leaves the region and nothing pulls from the internet. The registry is reachable only through a private
endpoint in the region's VNet, registered in the ``privatelink.azurecr.io`` zone (``privatelink.azurecr.cn``
in Azure China). Only Entra ID identities pull: the admin user and anonymous pull are off. The pulling
identity is the cluster's kubelet identity, which ``components.compute`` grants AcrPull on
:attr:`ContainerRegistry.resource_id` before the cluster exists.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_azure_native as azure_native

from components.contracts import RegistryEndpoints
from components.placement import AzurePlacement
from components.private_link import private_endpoint
from platform_model.locations import DNS
from platform_model.vocabulary import Cloud

REGISTRY_SKU = "Premium"
"""Private endpoints "are available in the Premium container registry service tier"
(https://learn.microsoft.com/azure/container-registry/container-registry-private-link; the same in Azure China,
https://docs.azure.cn/en-us/container-registry/container-registry-private-link)."""
PRIVATE_LINK_GROUP = "registry"
"""The registry's private-link sub-resource (``--group-ids registry`` in the private link article above)."""
ZONE_KEY = "registry"
"""Its ``CloudDns.private_zones`` key."""


def _login_server(registry_name: str, cloud: Cloud) -> str:
    """``<name>.azurecr.io`` (``.azurecr.cn`` in Azure China): where images are pushed and pulled."""
    return f"{registry_name.lower()}.{DNS[cloud].registry}"


@dataclass(frozen=True)
class ContainerRegistryArgs:
    """The region's image registry."""

    placement: AzurePlacement
    """Required. Resource group, location (the profile's primary), cloud and tags; ``private_endpoint_subnet_id``
    and the ``registry`` private DNS zone put the registry behind a private endpoint in the region's VNet."""
    registry_name: str
    """Required. Globally unique, 5-50 letters and digits (``placement.container_registry_name``)."""


class ContainerRegistry(pulumi.ComponentResource):
    """A Premium registry with public network access, the admin user and anonymous pull disabled."""

    name: pulumi.Output[str]
    resource_id: pulumi.Output[str]
    location: str
    login_server: str
    """``<name>.azurecr.io`` (``.azurecr.cn`` in Azure China): the image prefix the workloads use, known at
    preview because the name is explicit."""
    endpoints: pulumi.Output[RegistryEndpoints]

    def __init__(self, name: str, args: ContainerRegistryArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("autocloud:registry:ContainerRegistry", name, None, opts)
        placement = args.placement
        self.location = placement.location

        registry = azure_native.containerregistry.Registry(
            f"{name}-acr",
            registry_name=args.registry_name,
            resource_group_name=placement.resource_group_name,
            location=placement.location,
            sku={"name": REGISTRY_SKU},
            # Pulls and pushes authenticate with Entra ID only: no shared admin credentials, no unauthenticated
            # pull (both are off by default; set so a drift shows and the baseline rule can judge them).
            admin_user_enabled=False,
            anonymous_pull_enabled=False,
            # Reached only through the private endpoint below: with public network access disabled, pushes and
            # pulls come from machines that reach the endpoint (the VNet, or a network peered or routed to it).
            public_network_access="Disabled",
            tags=dict(placement.tags),
            opts=pulumi.ResourceOptions(parent=self),
        )
        private_endpoint(f"{name}-endpoint", self, placement, registry.id, PRIVATE_LINK_GROUP, (ZONE_KEY,))

        self.name = registry.name
        self.resource_id = registry.id
        self.login_server = _login_server(args.registry_name, placement.cloud)
        self.endpoints = registry.id.apply(lambda _: RegistryEndpoints(login_server=self.login_server))
        self.register_outputs(
            {
                "name": self.name,
                "resource_id": self.resource_id,
                "location": self.location,
                "login_server": self.login_server,
                "endpoints": self.endpoints,
            }
        )
