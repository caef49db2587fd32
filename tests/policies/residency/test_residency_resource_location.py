"""residency-resource-location: one compliant resource per shape, one changed field per refusal."""

from __future__ import annotations

from policies.model import ProviderView, ResourceView, RuleContext
from policies.rules.residency.resource_location import RULE
from policies.testing import DELETE, changed, details, judge

RG = "azure-native:resources:ResourceGroup"
HUB = "azure-native:iothub:IotHubResource"
DPS = "azure-native:deviceprovisioningservices:IotDpsResource"
ZONE = "azure-native:privatedns:PrivateZone"
PROVIDER = "pulumi:providers:azure-native"

GROUP = {"location": "westeurope", "tags": {"region": "eu"}}
DPS_PROPS = {
    "location": "westeurope",
    "properties": {"iotHubs": [{"location": "westeurope", "connectionString": "x"}, {"location": "North Europe"}]},
}


def test_accepts_compliant_resources(eu: RuleContext) -> None:
    resources = [
        ResourceView.of(RG, GROUP),
        ResourceView.of(HUB, {"location": "West Europe"}, name="hub"),
        ResourceView.of(DPS, DPS_PROPS, name="dps"),
        ResourceView.of(ZONE, {"location": "global"}, name="zone"),
        ResourceView.of(PROVIDER, {"environment": "public", "location": "northeurope"}, name="azure"),
        ResourceView.of(PROVIDER, {"environment": "public"}, name="no-default-location"),
        ResourceView.of("azure-native:authorization:RoleAssignment", {"scope": "/subscriptions/x"}),
        ResourceView.of("kubernetes:core/v1:Namespace", {"metadata": {"name": "autocloud-eu"}}),
    ]
    assert judge(RULE, resources, eu) == []


def test_refuses_location_outside_boundary(eu: RuleContext) -> None:
    found = judge(RULE, ResourceView.of(RG, changed(GROUP, "location", "eastus"), name="platform"), eu)
    assert len(found) == 1
    message = found[0].message
    assert "[residency-resource-location]" in message
    assert "platform" in message
    assert "'eastus'" in message
    assert "westeurope" in message and "northeurope" in message
    assert found[0].enforcement == "mandatory"


def test_refuses_missing_location_on_tracked_type(eu: RuleContext) -> None:
    assert "location is not set" in details(RULE, ResourceView.of(RG, changed(GROUP, "location", DELETE)), eu)[0]


def test_refuses_global_for_regional_service(eu: RuleContext) -> None:
    found = details(RULE, ResourceView.of(HUB, {"location": "global"}), eu)
    assert "'global' is only allowed" in found[0]


def test_refuses_non_string_location(eu: RuleContext) -> None:
    assert "is not a location name" in details(RULE, ResourceView.of(RG, changed(GROUP, "location", "")), eu)[0]


def test_refuses_provider_default_location_outside(eu: RuleContext) -> None:
    found = details(RULE, ResourceView.of(PROVIDER, {"location": "eastus"}), eu)
    assert "default location 'eastus'" in found[0]


def test_refuses_dps_linked_hub_outside(eu: RuleContext) -> None:
    found = details(RULE, ResourceView.of(DPS, changed(DPS_PROPS, "properties.iotHubs.1.location", "eastus")), eu)
    assert found == [f"linked IoT hub [1] location 'eastus' is outside the eu boundary (allowed: {eu.allowed()})"]


def test_refuses_api_versioned_token(eu: RuleContext) -> None:
    view = ResourceView.of("azure-native:resources/v20240301:ResourceGroup", {"location": "eastus"})
    assert view.type == RG
    assert len(judge(RULE, view, eu)) == 1


NSG = "azure-native:network:NetworkSecurityGroup"


def _provider(location: str | None) -> ProviderView:
    props = {} if location is None else {"location": location}
    return ProviderView(PROVIDER, "default", "urn:pulumi:s::p::pulumi:providers:azure-native::default", props)


def test_refuses_location_inherited_from_an_outside_group(eu: RuleContext) -> None:
    group = ResourceView.of(RG, {"location": "eastus", "resourceGroupName": "shared"}, name="shared-rg")
    nsg = ResourceView.of(NSG, {"resourceGroupName": "shared"}, name="nsg")
    found = {v.resource: v.detail for v in judge(RULE, [group, nsg], eu)}
    assert found["nsg"].startswith("location inherited from resource group 'shared-rg': 'eastus' is outside")


def test_accepts_a_group_placed_by_its_providers_default(eu: RuleContext) -> None:
    group = ResourceView.of(RG, {"tags": {}}, name="home", provider=_provider("westeurope"))
    nsg = ResourceView.of(NSG, {"resourceGroupName": "home"}, name="nsg", provider=_provider("westeurope"))
    assert judge(RULE, [group, nsg], eu) == []


def test_refuses_a_group_placed_outside_by_its_providers_default(eu: RuleContext) -> None:
    found = details(RULE, ResourceView.of(RG, {}, name="home", provider=_provider("eastus")), eu)
    assert found == [
        f"provider default location (azure-native:location): 'eastus' is outside the eu boundary "
        f"(allowed: {eu.allowed()})"
    ]


def test_leaves_what_cannot_be_known_to_the_unverified_rule(eu: RuleContext) -> None:
    resources = [
        ResourceView.of(NSG, {"resourceGroupName": "someone-elses"}, name="existing"),
        ResourceView.of(NSG, {"location": "<unknown output>"}, name="from-output"),
    ]
    assert judge(RULE, resources, eu) == []
