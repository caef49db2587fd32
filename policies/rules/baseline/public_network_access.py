"""Back-end services are never open to the internet; device-facing endpoints are, with X.509 only.

Back-end services (Event Hubs, Service Bus, Cosmos DB, Storage, Key Vault, Container Registry, the AKS API
server) are
reached through private endpoints. Azure's default for every one of them is public access, so an unset
property is refused. Two shapes count as private:

- ``publicNetworkAccess: Disabled``;
- "selected networks" with no IP rule: ``Enabled`` with a default action of ``Deny``, so only
  private endpoints, the selected virtual networks and trusted Microsoft services get in. That is the
  documented way to let IoT Hub routing and Event Hubs Capture through a firewall
  (https://learn.microsoft.com/azure/iot-hub/virtual-network-support, "Egress connectivity";
  https://learn.microsoft.com/azure/storage/common/storage-network-security-trusted-azure-services).
  Event Hubs and Service Bus namespaces also need at least one virtual-network rule: "If there are no
  IP and virtual network rules, all the traffic flows into the namespace even if you set the
  defaultAction to deny" (https://learn.microsoft.com/azure/event-hubs/event-hubs-ip-filtering). A
  namespace's rules live in its ``NamespaceNetworkRuleSet`` resource, found in the stack by name.

Device-facing endpoints are public by design: vehicles are on mobile networks, and IoT Hub advises
against private link for devices in a wide-area network
(https://learn.microsoft.com/azure/iot-hub/virtual-network-support). An IoT Hub may be public only
when devices can authenticate with X.509 alone (``disableDeviceSAS`` and ``disableModuleSAS`` true,
https://learn.microsoft.com/azure/iot-hub/iot-hub-dev-guide-azure-ad-rbac). DPS has no ARM switch for
attestation (enrollments are data-plane), so it may be public; the hubs it assigns to refuse SAS.
AKS is private through a private API server (``apiServerAccessProfile.enablePrivateCluster``). Its
``publicNetworkAccess`` is not judged: ``Disabled`` blocks inbound traffic to the whole managed cluster, not
only the API server (https://github.com/Azure/AKS/issues/4220), and AKS support calls it of no value on a
private cluster (https://github.com/Azure/AKS/issues/3690), so a private cluster keeps it ``Enabled``.
Container Registry is reached only through private endpoints, which need the Premium tier
(https://learn.microsoft.com/azure/container-registry/container-registry-private-link). Maps has no such
setting in azure-native 3.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from policies.facts.azure import (
    AKS,
    CONTAINER_REGISTRY,
    COSMOS_ACCOUNT,
    DPS,
    EVENTHUB_NAMESPACE,
    IOT_HUB,
    SERVICEBUS_NAMESPACE,
    STORAGE_ACCOUNT,
    StackIndex,
)
from policies.facts.props import get, items, show
from policies.model import ResourceView, RuleContext, StackRule

KEY_VAULT = "azure-native:keyvault:Vault"
EVENTHUB_RULE_SET = "azure-native:eventhub:NamespaceNetworkRuleSet"
SERVICEBUS_RULE_SET = "azure-native:servicebus:NamespaceNetworkRuleSet"

Expected = tuple[str, object]
"""A property path and the only value it may have."""

#: Back-end settings with exactly one private value.
_FIXED: Mapping[str, tuple[Expected, ...]] = {
    COSMOS_ACCOUNT: (("publicNetworkAccess", "Disabled"),),
    STORAGE_ACCOUNT: (("allowBlobPublicAccess", False),),
    AKS: (("apiServerAccessProfile.enablePrivateCluster", True),),
    CONTAINER_REGISTRY: (("publicNetworkAccess", "Disabled"),),
    KEY_VAULT: (("properties.publicNetworkAccess", "disabled"),),
}
#: Namespaces whose "selected networks" live in a separate rule-set resource.
_NAMESPACES: Mapping[str, str] = {EVENTHUB_NAMESPACE: EVENTHUB_RULE_SET, SERVICEBUS_NAMESPACE: SERVICEBUS_RULE_SET}
X509_ONLY: tuple[str, ...] = ("properties.disableDeviceSAS", "properties.disableModuleSAS")


def _same(actual: object, expected: object) -> bool:
    if isinstance(expected, str):
        return isinstance(actual, str) and actual.lower() == expected.lower()
    return actual is expected


def selects_private_networks(rules: Mapping[str, Any] | None, needs_subnet: bool) -> bool:
    """A network rule set that lets in only private endpoints, selected subnets and trusted services:
    default Deny, no IP rule, and (namespaces) at least one virtual-network rule."""
    if not isinstance(rules, Mapping):
        return False
    return (
        _same(rules.get("defaultAction"), "Deny")
        and not items(rules.get("ipRules"))
        and (bool(items(rules.get("virtualNetworkRules"))) or not needs_subnet)
    )


def _closed(view: ResourceView, rules: Mapping[str, Any] | None, needs_subnet: bool) -> Iterator[str]:
    """``publicNetworkAccess`` Disabled, or Enabled behind rules that select only private networks."""
    value = get(view.props, "publicNetworkAccess")
    if _same(value, "Disabled"):
        return
    if _same(value, "Enabled") and selects_private_networks(rules, needs_subnet):
        return
    subnet = ", no IP rule and at least one virtual-network rule" if needs_subnet else " and no IP rule"
    yield (
        f"publicNetworkAccess is {show(value)}, which allows public access (allowed: 'Disabled', or 'Enabled' "
        f"with a network rule set of defaultAction 'Deny'{subnet})"
    )


def _iot_hub(view: ResourceView) -> Iterator[str]:
    value = get(view.props, "properties.publicNetworkAccess")
    if _same(value, "Disabled"):
        return
    open_to = [path for path in X509_ONLY if get(view.props, path) is not True]
    if open_to:
        yield (
            f"properties.publicNetworkAccess is {show(value)} while {', '.join(open_to)} is not True: device "
            "endpoints may be public only with X.509-only device auth (allowed: 'Disabled', or "
            f"{' and '.join(f'{p}=True' for p in X509_ONLY)})"
        )


def _rule_set_of(index: StackIndex, rule_set_type: str, namespace: ResourceView) -> Mapping[str, Any] | None:
    names = {
        namespace.name.lower(),
        str(get(namespace.props, "namespaceName", "")).lower(),
        str(get(namespace.props, "name", "")).lower(),
    } - {""}
    for rule_set in index.of_type(rule_set_type):
        if str(get(rule_set.props, "namespaceName", "")).lower() in names:
            return rule_set.props
    return None


def problems(view: ResourceView, index: StackIndex) -> Iterator[str]:
    """Why one resource is reachable from the internet when it should not be."""
    if view.type == IOT_HUB:
        yield from _iot_hub(view)
    elif view.type in _NAMESPACES:
        yield from _closed(view, _rule_set_of(index, _NAMESPACES[view.type], view), needs_subnet=True)
    elif view.type == STORAGE_ACCOUNT:
        yield from _closed(view, get(view.props, "networkRuleSet"), needs_subnet=False)
    for path, expected in _FIXED.get(view.type, ()):
        actual = get(view.props, path)
        if not _same(actual, expected):
            yield f"{path} is {show(actual)}, which allows public access (allowed: {expected!r})"


def validate(resources: Sequence[ResourceView], ctx: RuleContext) -> Iterator[tuple[str, str]]:
    index = StackIndex(resources)
    for view in resources:
        if view.type == DPS:
            continue  # device-facing by design, see the module docstring
        for problem in problems(view, index):
            yield view.urn, problem


RULE = StackRule(
    name="baseline-public-network-access",
    description="Back-end services (Event Hubs, Service Bus, Cosmos DB, Storage, Key Vault, Container Registry, "
    "AKS API) are not reachable from the internet; IoT Hub device endpoints may be, with X.509-only device auth.",
    remediation="Set publicNetworkAccess='Disabled' (or 'Enabled' with default action Deny, no IP rule and, "
    "for namespaces, a VNet rule: trusted-service access), AKS apiServerAccessProfile.enablePrivateCluster=True, "
    "Storage allowBlobPublicAccess=False; a public IoT Hub needs disableDeviceSAS=True and disableModuleSAS=True.",
    validate=validate,
    relaxable=True,
)
