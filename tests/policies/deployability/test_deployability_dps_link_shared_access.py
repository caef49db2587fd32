"""deployability-dps-link-shared-access: a DPS linking one hub of the stack, each hub setting changed in turn."""

from __future__ import annotations

from typing import Any

from policies.model import ResourceView, RuleContext
from policies.rules.deployability.dps_link_shared_access import RULE
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
