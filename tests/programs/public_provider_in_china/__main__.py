"""residency-provider-environment: a China stack deploying through the default (public cloud) provider."""

import pulumi_azure_native as azure_native

TAGS = {"region": "cn", "data-residency": "cn", "data-classification": "vehicle-data"}

azure_native.resources.ResourceGroup("platform", location="chinanorth3", tags=TAGS)
