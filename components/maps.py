"""Maps on Azure: an Azure Maps account, only where the profile enables it (never in Azure China)."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_azure_native as azure_native

from components.contracts import MapsEndpoints
from components.placement import AzurePlacement
from platform_model.locations import catalog


@dataclass(frozen=True)
class MapsServiceArgs:
    """The region's Azure Maps account."""

    placement: AzurePlacement
    """Required. ``placement.location`` must be a Maps location inside the boundary
    (``RegionProfile.maps_location``), not necessarily the primary."""


class MapsService(pulumi.ComponentResource):
    """Azure Maps Gen2 with Entra-only auth, called through its geography endpoint
    (``eu.atlas.microsoft.com`` / ``us.atlas.microsoft.com``) so requests are processed in region."""

    name: pulumi.Output[str]
    resource_id: pulumi.Output[str]
    location: str
    client_id: pulumi.Output[str]
    endpoints: pulumi.Output[MapsEndpoints]

    def __init__(self, name: str, args: MapsServiceArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("autocloud:maps:MapsService", name, None, opts)
        placement = args.placement
        if placement.cloud != "public":
            raise ValueError("Azure Maps is not offered in Azure China")
        if placement.location not in catalog().maps_locations:
            raise ValueError(f"Azure Maps accounts cannot be created in {placement.location}")
        self.location = placement.location
        account = azure_native.maps.Account(
            f"{name}-account",
            resource_group_name=placement.resource_group_name,
            location=placement.location,
            sku={"name": "G2"},
            kind="Gen2",
            properties={"disable_local_auth": True},
            tags=dict(placement.tags),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.name = account.name
        self.resource_id = account.id
        # x-ms-client-id for Entra ID calls: an identifier, not a secret.
        self.client_id = account.properties.apply(lambda p: p.unique_id or "")
        api = f"https://{catalog().maps_locations[placement.location]}.atlas.microsoft.com"
        self.endpoints = pulumi.Output.from_input(MapsEndpoints(api=api))
        self.register_outputs(
            {
                "name": self.name,
                "resource_id": self.resource_id,
                "location": self.location,
                "client_id": self.client_id,
                "endpoints": self.endpoints,
            }
        )
