"""A program that fails while declaring resources: check must report one line and exit 2."""

import pulumi_azure_native as azure_native

azure_native.resources.ResourceGroup("platform", location="westeurope")
raise RuntimeError("profile table is empty")
