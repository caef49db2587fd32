"""Deploys into a resource group someone else made: nothing here says where that group is."""

import pulumi_azure_native as azure_native

TAGS = {"region": "eu", "data-residency": "eu", "data-classification": "vehicle-data"}

shared = azure_native.resources.get_resource_group(resource_group_name="shared-platform")
azure_native.network.NetworkSecurityGroup(
    "follows-lookup", resource_group_name=shared.name, location=shared.location, tags=TAGS
)
azure_native.network.NetworkSecurityGroup("left-to-group", resource_group_name="shared-platform", tags=TAGS)
