"""Private networking on Azure: the region's VNet, subnets and private DNS zones."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_azure_native as azure_native

from components.placement import AzurePlacement
from components.private_link import private_dns_zone

ADDRESS_SPACE = "10.0.0.0/16"
ENDPOINT_PREFIX = "10.0.0.0/22"
NODE_PREFIX = "10.0.16.0/20"


@dataclass(frozen=True)
class PrivateNetworkArgs:
    """The region's VNet. Regions never peer: each VNet stays inside its own boundary."""

    placement: AzurePlacement
    """Required. Resource group, location (the profile's primary), cloud, tags."""
    zone_keys: Sequence[str]
    """Required. Private DNS zones to create, keys of ``CloudDns.private_zones``."""
    address_space: str = ADDRESS_SPACE
    """Optional, default 10.0.0.0/16."""
    endpoint_prefix: str = ENDPOINT_PREFIX
    """Optional, default 10.0.0.0/22: private endpoints."""
    node_prefix: str = NODE_PREFIX
    """Optional, default 10.0.16.0/20: AKS nodes (pods use the overlay, not this range)."""


class PrivateNetwork(pulumi.ComponentResource):
    """VNet with a private-endpoint subnet and a node subnet, and the private DNS zones linked to it."""

    name: pulumi.Output[str]
    resource_id: pulumi.Output[str]
    location: str
    private_endpoint_subnet_id: pulumi.Output[str]
    node_subnet_id: pulumi.Output[str]
    dns_zone_ids: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: PrivateNetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("autocloud:network:PrivateNetwork", name, None, opts)
        placement = args.placement
        self.location = placement.location

        vnet = self._build_vnet(name, args)
        endpoints, nodes = self._build_subnets(name, args, vnet)
        self.dns_zone_ids = {
            key: private_dns_zone(f"{name}-zone-{key}", self, placement, key, vnet.id).id for key in args.zone_keys
        }

        self.name = vnet.name
        self.resource_id = vnet.id
        self.private_endpoint_subnet_id = endpoints.id
        self.node_subnet_id = nodes.id
        self.register_outputs(
            {
                "name": self.name,
                "resource_id": self.resource_id,
                "location": self.location,
                "private_endpoint_subnet_id": self.private_endpoint_subnet_id,
                "node_subnet_id": self.node_subnet_id,
                "dns_zone_ids": self.dns_zone_ids,
            }
        )

    def _build_vnet(self, name: str, args: PrivateNetworkArgs) -> azure_native.network.VirtualNetwork:
        placement = args.placement
        return azure_native.network.VirtualNetwork(
            f"{name}-vnet",
            resource_group_name=placement.resource_group_name,
            location=placement.location,
            address_space={"address_prefixes": [args.address_space]},
            tags=dict(placement.tags),
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["subnets"]),
        )

    def _build_subnets(
        self, name: str, args: PrivateNetworkArgs, vnet: azure_native.network.VirtualNetwork
    ) -> tuple[azure_native.network.Subnet, azure_native.network.Subnet]:
        """The private-endpoint subnet and the node subnet, neither with default outbound access."""
        rg = args.placement.resource_group_name
        endpoints = azure_native.network.Subnet(
            f"{name}-endpoints",
            resource_group_name=rg,
            virtual_network_name=vnet.name,
            address_prefix=args.endpoint_prefix,
            private_endpoint_network_policies="Disabled",
            default_outbound_access=False,
            opts=pulumi.ResourceOptions(parent=self),
        )
        nodes = azure_native.network.Subnet(
            f"{name}-nodes",
            resource_group_name=rg,
            virtual_network_name=vnet.name,
            address_prefix=args.node_prefix,
            default_outbound_access=False,
            # The Event Hubs namespaces select this subnet (components.streaming): a namespace on "selected
            # networks" needs at least one rule, and a VNet rule needs the service endpoint.
            service_endpoints=[{"service": "Microsoft.EventHub"}],
            # Subnets of one VNet cannot be written concurrently.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[endpoints]),
        )
        return endpoints, nodes
