"""residency-resource-location: an EU stack's resource group in East US."""

import pulumi_azure_native as azure_native

TAGS = {"region": "eu", "data-residency": "eu", "data-classification": "vehicle-data"}

azure_native.resources.ResourceGroup("platform", location="eastus", tags=TAGS)
