"""deployability-iothub-min-tls-location."""

from __future__ import annotations

from policies.model import ResourceView, RuleContext
from policies.rules.deployability.iothub_min_tls_location import RULE
from policies.testing import DELETE, changed, details

HUB = "azure-native:iothub:IotHubResource"
PROPS = {"location": "westeurope", "properties": {"minTlsVersion": "1.2"}}


def test_accepts_min_tls_in_the_public_cloud(eu: RuleContext) -> None:
    assert details(RULE, ResourceView.of(HUB, PROPS), eu) == []


def test_accepts_unset_in_azure_china(cn: RuleContext) -> None:
    china = changed(changed(PROPS, "location", "chinanorth3"), "properties.minTlsVersion", DELETE)
    assert details(RULE, ResourceView.of(HUB, china), cn) == []


def test_refuses_min_tls_in_azure_china(cn: RuleContext) -> None:
    found = details(RULE, ResourceView.of(HUB, changed(PROPS, "location", "chinanorth3")), cn)
    assert found == [
        "properties.minTlsVersion is '1.2' in 'chinanorth3', where IoT Hub does not accept TLS enforcement "
        "(allowed: unset outside the public cloud; source: learn.microsoft.com/azure/iot-hub/iot-hub-tls-support)"
    ]
