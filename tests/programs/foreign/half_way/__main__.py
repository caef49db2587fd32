"""Declares an East US group, then fails inside an apply on a known output: what came before is still judged."""

import pulumi_azure_native as azure_native
from helpers import endpoint_host

TAGS = {"region": "eu", "data-residency": "eu", "data-classification": "vehicle-data"}

group = azure_native.resources.ResourceGroup("app", location="eastus", tags=TAGS)
network = azure_native.network.VirtualNetwork(
    "net", resource_group_name=group.name, location="westeurope", address_space={"addressPrefixes": []}, tags=TAGS
)
network.address_space.apply(endpoint_host)
