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
        "properties.minTlsVersion is '1.2' in 'chinanorth3', where IoT Hub does not offer TLS 1.2 enforcement "
        "(allowed: unset here; minTlsVersion only in no location of 'china'; "
        "source: learn.microsoft.com/azure/iot-hub/iot-hub-tls-support)"
    ]


def test_accepts_min_tls_in_a_public_location_earlier_docs_left_out(eu: RuleContext) -> None:
    """The page once listed East US, South Central US and West US 2 only; now every public region."""
    germany = changed(PROPS, "location", "germanywestcentral")
    assert details(RULE, ResourceView.of(HUB, germany), eu) == []


def test_accepts_a_location_unknown_to_the_catalog(eu: RuleContext) -> None:
    """location-capability refuses unknown names; this rule has nothing to add."""
    assert details(RULE, ResourceView.of(HUB, changed(PROPS, "location", "atlantis")), eu) == []
