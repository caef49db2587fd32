"""deployability-dps-private-endpoint-cloud."""

from __future__ import annotations

from policies.model import ResourceView, RuleContext
from policies.rules.deployability.dps_private_endpoint_cloud import RULE
from policies.testing import DELETE, changed, details

ENDPOINT = "azure-native:network:PrivateEndpoint"
PROPS = {
    "location": "westeurope",
    "privateLinkServiceConnections": [
        {"name": "eu-provisioning-pe-iotdps", "privateLinkServiceId": "/subscriptions/x/dps", "groupIds": ["iotDps"]}
    ],
}


def test_accepts_a_dps_private_endpoint_in_the_public_cloud(eu: RuleContext) -> None:
    assert details(RULE, ResourceView.of(ENDPOINT, PROPS), eu) == []


def test_refuses_a_dps_private_endpoint_in_azure_china(cn: RuleContext) -> None:
    china = changed(PROPS, "location", "chinanorth3")
    assert details(RULE, ResourceView.of(ENDPOINT, china), cn) == [
        "privateLinkServiceConnections[0].groupIds names 'iotDps' in 'chinanorth3' (china cloud), where DPS has no "
        "private endpoints (allowed: no DPS private endpoint here; vehicles use the DPS public endpoint with X.509; "
        "source: learn.microsoft.com/azure/iot-dps/virtual-network-support)"
    ]


def test_refuses_a_manual_dps_connection_whatever_the_group_case(cn: RuleContext) -> None:
    manual = {
        "location": "chinaeast2",
        "manualPrivateLinkServiceConnections": [{"groupIds": ["IOTDPS"]}],
    }
    found = details(RULE, ResourceView.of(ENDPOINT, manual), cn)
    assert len(found) == 1 and found[0].startswith("manualPrivateLinkServiceConnections[0].groupIds")


def test_accepts_other_private_endpoints_in_azure_china(cn: RuleContext) -> None:
    hub = changed(changed(PROPS, "location", "chinanorth3"), "privateLinkServiceConnections.0.groupIds", ["iotHub"])
    assert details(RULE, ResourceView.of(ENDPOINT, hub), cn) == []


def test_accepts_a_missing_location_or_connections(cn: RuleContext) -> None:
    assert details(RULE, ResourceView.of(ENDPOINT, changed(PROPS, "location", DELETE)), cn) == []
    china = changed(PROPS, "location", "chinanorth3")
    assert details(RULE, ResourceView.of(ENDPOINT, changed(china, "privateLinkServiceConnections", DELETE)), cn) == []
