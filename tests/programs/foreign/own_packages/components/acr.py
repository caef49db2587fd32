"""A namespace package's module (no components/__init__.py), as in programs that split their code."""

import pulumi_azure_native as azure_native


def registry(name: str, group: azure_native.resources.ResourceGroup, tags: dict[str, str]) -> object:
    return azure_native.containerregistry.Registry(
        name,
        resource_group_name=group.name,
        location="westeurope",
        sku={"name": "Premium"},
        admin_user_enabled=False,
        public_network_access="Disabled",
        tags=tags,
    )
