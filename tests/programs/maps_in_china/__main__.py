"""residency-maps-allowed: an Azure Maps account in the China region, which has no Maps."""

import pulumi
import pulumi_azure_native as azure_native

TAGS = {"region": "cn", "data-residency": "cn", "data-classification": "vehicle-data"}

china = azure_native.Provider("china", environment="china", location="chinanorth3")
azure_native.maps.Account(
    "maps",
    resource_group_name="rg-cn",
    location="chinanorth3",
    kind="Gen2",
    sku={"name": "G2"},
    properties={"disable_local_auth": True},
    tags=TAGS,
    opts=pulumi.ResourceOptions(provider=china),
)
