"""azure-native 2.x through Poetry: IoT Hub lives in `devices`; the hub sits in East US, outside an EU boundary."""

import pulumi
import pulumi_azure_native as azure_native
from pulumi_azure_native import devices

TAGS = {"region": "eu", "data-residency": "eu", "data-classification": "vehicle-data"}

group = azure_native.resources.ResourceGroup("iot", location="westeurope", tags=TAGS)
hub = devices.IotHubResource(
    "hub",
    resource_group_name=group.name,
    location="eastus",
    sku=devices.IotHubSkuInfoArgs(name="S1", capacity=1),
    tags=TAGS,
)
pulumi.export("sdk_major", pulumi.Output.from_input(azure_native.__name__))
