"""Locations azure-native fills in: a group's location for what omits its own, the provider's for groups."""

import pulumi
import pulumi_azure_native as azure_native

TAGS = {"region": "eu", "data-residency": "eu", "data-classification": "vehicle-data"}

# An East US group: a container group without a location lands there too.
east = azure_native.resources.ResourceGroup("east", location="eastus", tags=TAGS)
azure_native.containerinstance.ContainerGroup(
    "worker",
    resource_group_name=east.name,
    os_type="Linux",
    containers=[{"name": "worker", "image": "busybox", "resources": {"requests": {"cpu": 1, "memoryInGB": 1}}}],
    tags=TAGS,
)

# A group without a location takes its provider's.
west = azure_native.Provider("west", location="westeurope")
home = azure_native.resources.ResourceGroup("home", tags=TAGS, opts=pulumi.ResourceOptions(provider=west))
azure_native.network.NetworkSecurityGroup(
    "home-nsg", resource_group_name=home.name, tags=TAGS, opts=pulumi.ResourceOptions(provider=west)
)
