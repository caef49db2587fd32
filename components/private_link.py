"""Private Link wiring shared by the azure components: private DNS zones and the endpoints registered in them.

PrivateNetwork creates one zone per service the region enables (:func:`private_dns_zone`); each
component puts its service behind :func:`private_endpoint`, which registers the endpoint's address in
the matching zones, so names resolve to private addresses inside the VNet.
"""

from __future__ import annotations

import pulumi
import pulumi_azure_native as azure_native

from components.placement import AzurePlacement

PRIVATE_DNS_LOCATION = "global"
"""Private DNS zones and their links are global by definition: they hold names, not vehicle data."""


def private_dns_zone(
    name: str,
    parent: pulumi.Resource,
    placement: AzurePlacement,
    zone_key: str,
    vnet_id: pulumi.Input[str],
) -> azure_native.privatedns.PrivateZone:
    """The private DNS zone for ``zone_key`` (a ``CloudDns.private_zones`` key), linked to the VNet."""
    tags = dict(placement.tags)
    zone = azure_native.privatedns.PrivateZone(
        name,
        resource_group_name=placement.resource_group_name,
        private_zone_name=placement.dns.private_zones[zone_key],
        location=PRIVATE_DNS_LOCATION,
        tags=tags,
        opts=pulumi.ResourceOptions(parent=parent),
    )
    azure_native.privatedns.VirtualNetworkLink(
        f"{name}-link",
        resource_group_name=placement.resource_group_name,
        private_zone_name=zone.name,
        location=PRIVATE_DNS_LOCATION,
        virtual_network={"id": vnet_id},
        registration_enabled=False,
        tags=tags,
        opts=pulumi.ResourceOptions(parent=parent),
    )
    return zone


def private_endpoint(
    name: str,
    parent: pulumi.Resource,
    placement: AzurePlacement,
    target_id: pulumi.Input[str],
    group_id: str,
    zone_keys: tuple[str, ...],
) -> azure_native.network.PrivateEndpoint | None:
    """A private endpoint to ``target_id`` in the region's endpoint subnet, registered in its DNS zones.

    Returns None when the placement has no endpoint subnet.
    """
    if placement.private_endpoint_subnet_id is None:
        return None
    endpoint = azure_native.network.PrivateEndpoint(
        name,
        resource_group_name=placement.resource_group_name,
        location=placement.location,
        subnet={"id": placement.private_endpoint_subnet_id},
        private_link_service_connections=[
            {"name": f"{name}-{group_id.lower()}", "private_link_service_id": target_id, "group_ids": [group_id]}
        ],
        tags=dict(placement.tags),
        opts=pulumi.ResourceOptions(parent=parent),
    )
    zones = [(key, placement.private_dns_zone_ids[key]) for key in zone_keys if key in placement.private_dns_zone_ids]
    if zones:
        azure_native.network.PrivateDnsZoneGroup(
            f"{name}-dns",
            resource_group_name=placement.resource_group_name,
            private_endpoint_name=endpoint.name,
            private_dns_zone_configs=[{"name": key, "private_dns_zone_id": zone_id} for key, zone_id in zones],
            opts=pulumi.ResourceOptions(parent=parent),
        )
    return endpoint
