"""residency-storage-redundancy: geo-redundancy only where the paired region stays in the boundary."""

from __future__ import annotations

from policies.model import ProviderView, ResourceView, RuleContext
from policies.rules.residency.storage_redundancy import RULE, is_geo_redundant
from policies.testing import DELETE, changed, details, judge

STORAGE = "azure-native:storage:StorageAccount"
ACCOUNT = {"location": "francecentral", "kind": "StorageV2", "sku": {"name": "Standard_ZRS"}}


def test_accepts_zone_redundant(eu: RuleContext) -> None:
    assert details(RULE, ResourceView.of(STORAGE, ACCOUNT), eu) == []


def test_accepts_grs_when_pair_is_inside(eu: RuleContext) -> None:
    props = changed(changed(ACCOUNT, "location", "westeurope"), "sku.name", "Standard_GRS")
    assert details(RULE, ResourceView.of(STORAGE, props), eu) == []


def test_refuses_grs_with_pair_outside(eu: RuleContext) -> None:
    found = details(RULE, ResourceView.of(STORAGE, changed(ACCOUNT, "sku.name", "Standard_GRS")), eu)
    assert len(found) == 1
    assert "'Standard_GRS' replicates to 'francesouth'" in found[0]


def test_refuses_ragzrs_with_pair_outside(eu: RuleContext) -> None:
    props = changed(changed(ACCOUNT, "location", "swedencentral"), "sku.name", "Standard_RAGZRS")
    assert "'swedensouth'" in details(RULE, ResourceView.of(STORAGE, props), eu)[0]


def test_refuses_geo_redundancy_without_known_pair(eu: RuleContext) -> None:
    props = changed(changed(ACCOUNT, "location", "marsnorth"), "sku.name", "Standard_RAGRS")
    (found,) = judge(RULE, ResourceView.of(STORAGE, props), eu)
    assert found.enforcement == "mandatory" and "no published pair" in found.detail


def test_an_unknown_location_cannot_be_verified_not_refused(eu: RuleContext) -> None:
    """A location only known at deployment (or none to inherit) is not "not set": advisory."""
    for location in ("<unknown output>", DELETE):
        props = changed(changed(ACCOUNT, "location", location), "sku.name", "Standard_GRS")
        (found,) = judge(RULE, ResourceView.of(STORAGE, props), eu)
        assert found.enforcement == "advisory" and found.detail.startswith("cannot verify where")
        assert "not set" not in found.detail


def test_the_location_azure_native_fills_in_is_judged(eu: RuleContext) -> None:
    """No location of its own: the provider's default (azure-native Check), else its group's."""
    provider = ProviderView("pulumi:providers:azure-native", "default", "urn:p", {"location": "francecentral"})
    props = changed(changed(ACCOUNT, "location", DELETE), "sku.name", "Standard_GRS")
    view = ResourceView.of(STORAGE, props, provider=provider)
    assert "the pair of 'francecentral'" in details(RULE, view, eu)[0]
    group = ResourceView.of("azure-native:resources:ResourceGroup", {"location": "westeurope"}, name="rg")
    inherits = ResourceView.of(STORAGE, changed(props, "resourceGroupName", "rg"))
    assert details(RULE, [group, inherits], eu) == []


def test_refuses_missing_sku(eu: RuleContext) -> None:
    assert "sku.name is not set" in details(RULE, ResourceView.of(STORAGE, changed(ACCOUNT, "sku", DELETE)), eu)[0]


def test_geo_redundant_sku_families() -> None:
    geo = ["Standard_GRS", "Standard_RAGRS", "Standard_GZRS", "Standard_RAGZRS", "StandardV2_GRS", "StandardV2_GZRS"]
    local = ["Standard_LRS", "Standard_ZRS", "Premium_LRS", "Premium_ZRS", "StandardV2_ZRS"]
    assert all(is_geo_redundant(s) for s in geo)
    assert not any(is_geo_redundant(s) for s in local)
