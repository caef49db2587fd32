"""deployability-dps-link-shared-access: a DPS linking one hub of the stack, each hub setting changed in turn;
then the link as a new stack's preview has it, its connection string known only at deployment."""

from __future__ import annotations

from typing import Any

from pulumi_policy.proxy import unknown_checking_proxy

from policies.model import ResourceView, RuleContext
from policies.rules.deployability.dps_link_shared_access import RULE, SOURCE
from policies.testing import changed, details

HUB = "azure-native:iothub:IotHubResource"
DPS = "azure-native:deviceprovisioningservices:IotDpsResource"
CONNECTION = "HostName=hub-1.azure-devices.net;SharedAccessKeyName=dps-link;SharedAccessKey=abc="
HUB_PROPS: dict[str, Any] = {
    "resourceName": "hub-1",
    "properties": {
        "disableLocalAuth": False,
        "authorizationPolicies": [{"keyName": "dps-link", "rights": "RegistryWrite, ServiceConnect"}],
    },
}
DPS_PROPS: dict[str, Any] = {"properties": {"iotHubs": [{"connectionString": CONNECTION, "location": "westeurope"}]}}


def stack(hub: dict[str, Any] = HUB_PROPS, dps: dict[str, Any] = DPS_PROPS) -> list[ResourceView]:
    return [ResourceView.of(HUB, hub, name="hub"), ResourceView.of(DPS, dps, name="dps")]


def test_accepts_least_rights_link_to_a_shared_access_hub(eu: RuleContext) -> None:
    assert details(RULE, stack(), eu) == []


def test_refuses_hub_with_local_auth_disabled(eu: RuleContext) -> None:
    found = details(RULE, stack(changed(HUB_PROPS, "properties.disableLocalAuth", True)), eu)
    assert len(found) == 1
    assert found[0].startswith("linked hub 'hub-1' has properties.disableLocalAuth True and refuses the DPS link")
    assert "how-to-manage-linked-iot-hubs" in found[0]


def test_refuses_device_connect_on_the_link_policy(eu: RuleContext) -> None:
    rights = "RegistryRead, RegistryWrite, ServiceConnect, DeviceConnect"
    found = details(RULE, stack(changed(HUB_PROPS, "properties.authorizationPolicies.0.rights", rights)), eu)
    assert found == [
        "linked hub 'hub-1' policy 'dps-link' grants DeviceConnect, RegistryRead, RegistryWrite, ServiceConnect "
        "(allowed: exactly RegistryWrite, ServiceConnect; source: "
        "learn.microsoft.com/azure/iot-dps/how-to-manage-linked-iot-hubs)"
    ]


def test_refuses_link_policy_missing_a_right(eu: RuleContext) -> None:
    found = details(RULE, stack(changed(HUB_PROPS, "properties.authorizationPolicies.0.rights", "RegistryWrite")), eu)
    assert len(found) == 1 and "grants RegistryWrite (allowed: exactly" in found[0]


def test_refuses_link_through_a_policy_the_hub_lacks(eu: RuleContext) -> None:
    other = CONNECTION.replace("dps-link", "iothubowner")
    found = details(RULE, stack(dps=changed(DPS_PROPS, "properties.iotHubs.0.connectionString", other)), eu)
    assert found[0].startswith("linked hub 'hub-1' has no shared access policy 'iothubowner'")


def test_refuses_link_to_a_hub_outside_the_stack(eu: RuleContext) -> None:
    other = CONNECTION.replace("hub-1", "elsewhere")
    found = details(RULE, stack(dps=changed(DPS_PROPS, "properties.iotHubs.0.connectionString", other)), eu)
    assert found[0].startswith("linked hub 'elsewhere.azure-devices.net' is not an IoT Hub of this stack")


def test_refuses_missing_connection_string(eu: RuleContext) -> None:
    found = details(RULE, stack(dps=changed(DPS_PROPS, "properties.iotHubs.0.connectionString", "")), eu)
    assert len(found) == 1 and "cannot be verified" in found[0]


# A link whose connection string only deployment will know: a new stack's preview, before its link secret exists.
UNKNOWN = "<unknown output>"
PENDING: dict[str, Any] = changed(DPS_PROPS, "properties.iotHubs.0.connectionString", UNKNOWN)
PLACED_HUB: dict[str, Any] = {**HUB_PROPS, "location": "westeurope"}


def test_accepts_link_known_only_at_deployment_when_a_hub_fits(eu: RuleContext) -> None:
    assert details(RULE, stack(PLACED_HUB, PENDING), eu) == []


def test_refuses_unknown_link_when_the_only_hub_grants_more(eu: RuleContext) -> None:
    rights = "RegistryRead, RegistryWrite, ServiceConnect, DeviceConnect"
    hub = changed(PLACED_HUB, "properties.authorizationPolicies.0.rights", rights)
    found = details(RULE, stack(hub, PENDING), eu)
    assert found == [
        "1 link(s) in westeurope whose connectionString is known only at deployment need as many hubs of this "
        "stack fit to be linked, 0 are: linked hub 'hub-1' policy 'dps-link' grants DeviceConnect, RegistryRead, "
        "RegistryWrite, ServiceConnect (allowed: exactly RegistryWrite, ServiceConnect; source: "
        "learn.microsoft.com/azure/iot-dps/how-to-manage-linked-iot-hubs)"
    ]


def test_refuses_unknown_link_when_the_hub_refuses_shared_access(eu: RuleContext) -> None:
    hub = changed(PLACED_HUB, "properties.disableLocalAuth", True)
    found = details(RULE, stack(hub, PENDING), eu)
    assert len(found) == 1 and "has properties.disableLocalAuth True" in found[0]


def test_refuses_unknown_link_when_the_hub_has_no_policy(eu: RuleContext) -> None:
    hub = changed(PLACED_HUB, "properties.authorizationPolicies", [])
    found = details(RULE, stack(hub, PENDING), eu)
    assert len(found) == 1 and found[0].endswith(
        "linked hub 'hub-1' has no shared access policy (source: " + SOURCE + ")"
    )


def test_refuses_unknown_link_without_a_hub_in_its_location(eu: RuleContext) -> None:
    found = details(RULE, stack(changed(PLACED_HUB, "location", "northeurope"), PENDING), eu)
    assert found == [
        "1 link(s) in westeurope whose connectionString is known only at deployment need as many hubs of this "
        "stack, and it has 0 other IoT Hub(s) in westeurope, so not every link can be verified (source: " + SOURCE + ")"
    ]


def test_refuses_more_unknown_links_than_hubs(eu: RuleContext) -> None:
    link = {"connectionString": UNKNOWN, "location": "westeurope"}
    found = details(RULE, stack(PLACED_HUB, {"properties": {"iotHubs": [link, link]}}), eu)
    assert len(found) == 1 and "2 link(s) in westeurope" in found[0] and "it has 1 other IoT Hub(s)" in found[0]


def test_a_hub_named_by_a_known_link_is_not_counted_for_an_unknown_one(eu: RuleContext) -> None:
    links = [
        {"connectionString": CONNECTION, "location": "westeurope"},
        {"connectionString": UNKNOWN, "location": "westeurope"},
    ]
    found = details(RULE, stack(PLACED_HUB, {"properties": {"iotHubs": links}}), eu)
    assert len(found) == 1 and "it has 0 other IoT Hub(s) in westeurope" in found[0]
    second = ResourceView.of(HUB, {**PLACED_HUB, "resourceName": "hub-2"}, name="hub2")
    assert details(RULE, [*stack(PLACED_HUB, {"properties": {"iotHubs": links}}), second], eu) == []


def test_in_a_pack_an_unknown_link_is_judged_too(eu: RuleContext) -> None:
    """pulumi-policy hands packs a proxy that raises on an unknown value; the rule reads it as unknown
    and still judges the hub's policy (it is no "cannot run" note)."""
    sentinel = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"  # pulumi-policy's unknown string
    dps = unknown_checking_proxy(changed(DPS_PROPS, "properties.iotHubs.0.connectionString", sentinel))
    hub = unknown_checking_proxy(changed(PLACED_HUB, "properties.authorizationPolicies.0.rights", "RegistryWrite"))
    views = [ResourceView.of(HUB, hub, name="hub"), ResourceView.of(DPS, dps, name="dps")]
    found = details(RULE, views, eu)
    assert len(found) == 1 and "policy 'dps-link' grants RegistryWrite (allowed: exactly" in found[0]
    fit = [ResourceView.of(HUB, unknown_checking_proxy(PLACED_HUB), name="hub"), views[1]]
    assert details(RULE, fit, eu) == []
