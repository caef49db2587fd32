"""residency-iot-data-residency."""

from __future__ import annotations

import dataclasses

from policies.model import ResourceView, RuleContext
from policies.rules.residency.iot_data_residency import RULE
from policies.testing import DELETE, changed, details

HUB = "azure-native:iothub:IotHubResource"
DPS = "azure-native:deviceprovisioningservices:IotDpsResource"
#: Southeast Asia is one of the two locations where Azure offers the flag (its pair leaves the geography).
PROPS = {"location": "southeastasia", "properties": {"enableDataResidency": True}}


def test_accepts_data_residency_on(eu: RuleContext) -> None:
    assert details(RULE, [ResourceView.of(HUB, PROPS), ResourceView.of(DPS, PROPS)], eu) == []


def test_refuses_data_residency_off(eu: RuleContext) -> None:
    found = details(RULE, ResourceView.of(HUB, changed(PROPS, "properties.enableDataResidency", False)), eu)
    assert found == [
        "properties.enableDataResidency is False but region eu requires IoT data residency (allowed: true)"
    ]


def test_not_demanded_where_azure_does_not_offer_it(eu: RuleContext) -> None:
    """West Europe's pair (North Europe) is in the same geography: there is no flag to set."""
    west = changed(changed(PROPS, "location", "westeurope"), "properties", DELETE)
    assert details(RULE, ResourceView.of(HUB, west), eu) == []


def test_refuses_missing_data_residency(eu: RuleContext) -> None:
    assert len(details(RULE, ResourceView.of(DPS, changed(PROPS, "properties.enableDataResidency", DELETE)), eu)) == 1


def test_policy_config_without_iot_data_residency_allows_it_off(eu: RuleContext) -> None:
    relaxed = dataclasses.replace(eu, iot_data_residency=False)
    assert details(RULE, ResourceView.of(HUB, changed(PROPS, "properties", DELETE)), relaxed) == []


def test_judges_failover_by_the_jurisdiction_even_where_the_config_does_not_ask(eu: RuleContext) -> None:
    """Brazil South pairs with South Central US: without data residency its hub's data leaves Brazil, whatever
    the pack config's iotDataResidency says; the same hub with the flag, or a UK hub (pair inside), passes."""
    brazil = dataclasses.replace(
        eu, region="br", boundary=frozenset({"brazilsouth"}), iot_data_residency=False, jurisdiction="brazil"
    )
    off = changed(changed(PROPS, "location", "brazilsouth"), "properties", DELETE)
    expected = (
        "properties.enableDataResidency is not set: IoT Hub and DPS in 'brazilsouth' replicate to its paired "
        "region 'southcentralus', outside brazil (source: "
        "https://learn.microsoft.com/azure/reliability/reliability-iot-hub; "
        "https://learn.microsoft.com/azure/iot-hub/how-to-disable-dr) (allowed: true)"
    )
    assert details(RULE, [ResourceView.of(HUB, off), ResourceView.of(DPS, off)], brazil) == [expected] * 2
    on = changed(PROPS, "location", "brazilsouth")
    assert details(RULE, ResourceView.of(HUB, on), brazil) == []
    uk = dataclasses.replace(brazil, region="uk", boundary=frozenset({"uksouth"}), jurisdiction="united-kingdom")
    assert details(RULE, ResourceView.of(HUB, changed(off, "location", "uksouth")), uk) == []
