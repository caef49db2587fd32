"""baseline-required-tags."""

from __future__ import annotations

from policies.model import ResourceView, RuleContext
from policies.rules.baseline.required_tags import RULE
from policies.testing import DELETE, changed, details, judge

STORAGE = "azure-native:storage:StorageAccount"
TAGGED = {
    "location": "westeurope",
    "tags": {"region": "eu", "data-residency": "eu", "data-classification": "vehicle-data", "team": "x"},
}


def test_accepts_tagged_resources(eu: RuleContext) -> None:
    resources = [
        ResourceView.of(STORAGE, TAGGED),
        ResourceView.of("azure-native:resources:ResourceGroup", TAGGED, name="rg"),
        ResourceView.of("azure-native:authorization:RoleAssignment", {"scope": "/x"}, name="not-taggable"),
        ResourceView.of("kubernetes:core/v1:Namespace", {"metadata": {"name": "n"}}, name="not-azure"),
    ]
    assert judge(RULE, resources, eu) == []


def test_refuses_wrong_data_residency(eu: RuleContext) -> None:
    found = details(RULE, ResourceView.of(STORAGE, changed(TAGGED, "tags.data-residency", "us")), eu)
    assert found == [
        "tags 'data-residency' is 'us' (allowed: data-residency='eu', region='eu', data-classification=<any>)"
    ]


def test_refuses_missing_classification(eu: RuleContext) -> None:
    found = details(RULE, ResourceView.of(STORAGE, changed(TAGGED, "tags.data-classification", DELETE)), eu)
    assert found[0].startswith("tags 'data-classification' is not set")


def test_refuses_missing_tags(eu: RuleContext) -> None:
    found = details(RULE, ResourceView.of(STORAGE, changed(TAGGED, "tags", DELETE)), eu)
    assert len(found) == 1
    assert all(
        key in found[0] for key in ("'data-residency' is not set", "'region' is not set", "'data-classification'")
    )
