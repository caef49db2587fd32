"""Imports only its own `components`, `policies`, `autocloud` and `platform_model`: under `pulumi
preview` nothing else by those names is importable, so the check must not offer the toolkit's."""

import pulumi_azure_native as azure_native
from autocloud.naming import name_for
from components.acr import registry
from platform_model.settings import LOCATION

from policies import TAGS

group = azure_native.resources.ResourceGroup(name_for("group"), location=LOCATION, tags=TAGS)
registry(name_for("registry"), group, TAGS)
