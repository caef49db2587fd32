"""residency-location-unverified: locations only known at deployment are reported, as advisory."""

from __future__ import annotations

from policies.model import ResourceView, RuleContext
from policies.rules.residency.location_unverified import RULE
from policies.testing import judge

RG = "azure-native:resources:ResourceGroup"
NSG = "azure-native:network:NetworkSecurityGroup"


def test_accepts_known_locations_own_or_inherited(eu: RuleContext) -> None:
    resources = [
        ResourceView.of(RG, {"location": "westeurope", "resourceGroupName": "platform"}, name="platform"),
        ResourceView.of(NSG, {"resourceGroupName": "platform"}, name="inherits"),
        ResourceView.of(NSG, {"location": "eastus"}, name="outside-is-the-other-rules-job"),
    ]
    assert judge(RULE, resources, eu) == []


def test_reports_a_group_the_program_does_not_declare(eu: RuleContext) -> None:
    (found,) = judge(RULE, ResourceView.of(NSG, {"resourceGroupName": "shared"}, name="nsg"), eu)
    assert found.enforcement == "advisory"
    assert "resource group 'shared' is not declared by this program" in found.detail


def test_reports_a_location_that_is_an_output(eu: RuleContext) -> None:
    (found,) = judge(RULE, ResourceView.of(NSG, {"location": "<unknown output>"}, name="nsg"), eu)
    assert "only known at deployment" in found.detail


def test_reports_a_group_whose_provider_location_is_unknown(eu: RuleContext) -> None:
    group = ResourceView.of(RG, {"location": "<unknown getResourceGroup.location>"}, name="rg")
    nsg = ResourceView.of(NSG, {"resourceGroupName": "rg"}, name="nsg")
    assert sorted(v.resource for v in judge(RULE, [group, nsg], eu)) == ["nsg", "rg"]
