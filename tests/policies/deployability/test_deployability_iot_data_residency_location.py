"""deployability-iot-data-residency-location."""

from __future__ import annotations

import pytest

from policies.model import ResourceView, RuleContext
from policies.rules.deployability.iot_data_residency_location import RULE
from policies.testing import DELETE, changed, details

TYPES = ["azure-native:iothub:IotHubResource", "azure-native:deviceprovisioningservices:IotDpsResource"]
PROPS = {"location": "southeastasia", "properties": {"enableDataResidency": True}}


@pytest.mark.parametrize("type_", TYPES)
def test_accepts_flag_where_offered(eu: RuleContext, type_: str) -> None:
    assert details(RULE, ResourceView.of(type_, PROPS), eu) == []


@pytest.mark.parametrize("type_", TYPES)
def test_accepts_flag_unset_anywhere(eu: RuleContext, type_: str) -> None:
    view = ResourceView.of(type_, changed(changed(PROPS, "location", "westeurope"), "properties", DELETE))
    assert details(RULE, view, eu) == []


@pytest.mark.parametrize("type_", TYPES)
def test_refuses_flag_in_west_europe(eu: RuleContext, type_: str) -> None:
    assert details(RULE, ResourceView.of(type_, changed(PROPS, "location", "westeurope")), eu) == [
        "properties.enableDataResidency is True in 'westeurope', where Azure does not offer it (allowed: only in "
        "brazilsouth, southeastasia; elsewhere leave it unset; source: "
        "https://learn.microsoft.com/azure/iot-hub/how-to-disable-dr)"
    ]
