"""Physical names follow Azure's naming rules: length and characters per resource type.

Source: https://learn.microsoft.com/azure/azure-resource-manager/management/resource-name-rules (one
row per resource provider/type below). A name that breaks them fails the first ``pulumi up`` at ARM
validation. The name judged is the explicit name input (``accountName``, ``vaultName``, ...) or, when
azure-native names the resource itself, its logical name plus the random suffix autonaming appends
(``AUTONAME_SUFFIX`` characters, counted against the maximum length).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from policies.facts.azure import (
    AKS,
    CONTAINER_REGISTRY,
    COSMOS_ACCOUNT,
    DPS,
    EVENTHUB_NAMESPACE,
    IOT_HUB,
    MAPS_ACCOUNT,
    RESOURCE_GROUP,
    STORAGE_ACCOUNT,
)
from policies.facts.props import get
from policies.model import ResourceRule, ResourceView, RuleContext

SOURCE = "learn.microsoft.com/azure/azure-resource-manager/management/resource-name-rules"
AUTONAME_SUFFIX = 8
"""Characters azure-native autonaming adds to a logical name (a random hex suffix)."""


@dataclass(frozen=True)
class NameRule:
    key: str
    """The input holding the explicit physical name."""
    minimum: int
    maximum: int
    pattern: str
    """A full-match regular expression for the allowed characters and shape."""
    allowed: str
    """The rule in words, for messages."""


KEY_VAULT = "azure-native:keyvault:Vault"
WORKSPACE = "azure-native:operationalinsights:Workspace"
VNET = "azure-native:network:VirtualNetwork"
EVENT_HUB = "azure-native:eventhub:EventHub"

NAME_RULES: Mapping[str, NameRule] = {
    RESOURCE_GROUP: NameRule(
        "resourceGroupName", 1, 90, r"[-\w._()]*[-\w_()]", "1-90 letters, digits, _-.() and not ending in '.'"
    ),
    STORAGE_ACCOUNT: NameRule("accountName", 3, 24, r"[a-z0-9]+", "3-24 lowercase letters and digits"),
    KEY_VAULT: NameRule(
        "vaultName",
        3,
        24,
        r"[a-zA-Z](?!.*--)[a-zA-Z0-9-]*[a-zA-Z0-9]",
        "3-24 letters, digits and single hyphens, starting with a letter, ending with a letter or digit",
    ),
    IOT_HUB: NameRule(
        "resourceName", 3, 50, r"[a-zA-Z0-9-]*[a-zA-Z0-9]", "3-50 letters, digits and hyphens, not ending in '-'"
    ),
    DPS: NameRule("provisioningServiceName", 3, 64, r"[a-zA-Z0-9-]+", "3-64 letters, digits and hyphens"),
    EVENTHUB_NAMESPACE: NameRule(
        "namespaceName",
        6,
        50,
        r"[a-zA-Z][a-zA-Z0-9-]*[a-zA-Z0-9]",
        "6-50 letters, digits and hyphens, starting with a letter, ending with a letter or digit",
    ),
    EVENT_HUB: NameRule(
        "eventHubName",
        1,
        256,
        r"[a-zA-Z0-9]([-._a-zA-Z0-9]*[a-zA-Z0-9])?",
        "1-256 letters, digits, '.', '_', '-', starting and ending with a letter or digit",
    ),
    COSMOS_ACCOUNT: NameRule(
        "accountName", 3, 44, r"[a-z0-9][a-z0-9-]*", "3-44 lowercase letters, digits and hyphens, not starting with '-'"
    ),
    AKS: NameRule(
        "resourceName",
        1,
        63,
        r"[a-zA-Z0-9]([-_a-zA-Z0-9]*[a-zA-Z0-9])?",
        "1-63 letters, digits, '_' and '-', starting and ending with a letter or digit",
    ),
    # Also the registry API: "The name must contain only alphanumeric characters, be globally unique, and between 5
    # and 50 characters in length" (learn.microsoft.com/rest/api/containerregistry/registries/check-name-availability).
    CONTAINER_REGISTRY: NameRule("registryName", 5, 50, r"[a-zA-Z0-9]+", "5-50 letters and digits"),
    WORKSPACE: NameRule(
        "workspaceName",
        4,
        63,
        r"[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]",
        "4-63 letters, digits and hyphens, starting and ending with a letter or digit",
    ),
    VNET: NameRule(
        "virtualNetworkName",
        2,
        64,
        r"[a-zA-Z0-9][-\w.]*\w",
        "2-64 letters, digits, '_', '.', '-', starting with a letter or digit, ending with a letter, digit or '_'",
    ),
    MAPS_ACCOUNT: NameRule(
        "accountName",
        1,
        98,
        r"[a-zA-Z0-9][-\w.]*",
        "1-98 letters, digits, '_', '.', '-', starting with a letter or digit",
    ),
}


def physical_name(view: ResourceView, rule: NameRule) -> tuple[str, int]:
    """The name to judge and the characters autonaming will add to it."""
    explicit = get(view.props, rule.key)
    if isinstance(explicit, str) and explicit:
        return explicit, 0
    return view.name, AUTONAME_SUFFIX


def validate(view: ResourceView, ctx: RuleContext) -> Iterator[str]:
    rule = NAME_RULES.get(view.type)
    if rule is None:
        return
    name, suffix = physical_name(view, rule)
    length = len(name) + suffix
    where = f"{rule.key} {name!r}" if suffix == 0 else f"autonamed {name!r} (+{suffix} random characters)"
    if not rule.minimum <= length <= rule.maximum:
        yield f"{where} is {length} characters long (allowed: {rule.allowed}; source: {SOURCE})"
    if not re.fullmatch(rule.pattern, name):
        yield f"{where} has characters or a shape Azure refuses (allowed: {rule.allowed}; source: {SOURCE})"


RULE = ResourceRule(
    name="deployability-naming-rules",
    description="Storage accounts, Key Vaults, IoT Hubs, DPS, Event Hubs, Cosmos DB, AKS, Container Registry, "
    "Log Analytics, VNets, Maps accounts and resource groups have names Azure accepts (length and characters).",
    remediation="Shorten the logical name or set an explicit name that follows the type's naming rule "
    "(components.placement.storage_account_name for storage accounts, container_registry_name for registries).",
    resource_types=frozenset(NAME_RULES),
    validate=validate,
)
