"""deployability-device-endpoint-reachable: public IoT Hub and DPS, then closed in each way."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from policies.model import ResourceView, RuleContext
from policies.rules.deployability.device_endpoint_reachable import RULE
from policies.testing import changed, details

TYPES = ["azure-native:iothub:IotHubResource", "azure-native:deviceprovisioningservices:IotDpsResource"]
PROPS: dict[str, Any] = {
    "properties": {
        "publicNetworkAccess": "Enabled",
        "ipFilterRules": [
            {"filterName": "fleet", "action": "Accept", "ipMask": "198.51.100.0/24"},
            {"filterName": "others", "action": "Reject", "ipMask": "0.0.0.0/0"},
        ],
    }
}


@pytest.mark.parametrize("type_", TYPES)
def test_accepts_public_endpoint_with_allow_list(eu: RuleContext, type_: str) -> None:
    assert details(RULE, ResourceView.of(type_, PROPS), eu) == []


@pytest.mark.parametrize("type_", TYPES)
def test_refuses_public_network_access_disabled(eu: RuleContext, type_: str) -> None:
    found = details(RULE, ResourceView.of(type_, changed(PROPS, "properties.publicNetworkAccess", "Disabled")), eu)
    assert len(found) == 1 and found[0].startswith("properties.publicNetworkAccess is 'Disabled': vehicles")


@pytest.mark.parametrize("type_", TYPES)
def test_refuses_ip_filter_rejecting_everyone_first(eu: RuleContext, type_: str) -> None:
    rules = [{"filterName": "others", "action": "Reject", "ipMask": "0.0.0.0/0"}]
    found = details(RULE, ResourceView.of(type_, changed(PROPS, "properties.ipFilterRules", rules)), eu)
    assert len(found) == 1 and found[0].startswith("properties.ipFilterRules reject every address")


def test_private_device_access_allows_closed_endpoints(eu: RuleContext) -> None:
    private = dataclasses.replace(eu, device_access="private")
    closed = changed(PROPS, "properties.publicNetworkAccess", "Disabled")
    assert details(RULE, ResourceView.of(TYPES[0], closed), private) == []
