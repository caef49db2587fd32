"""kubernetes-namespace-region-label."""

from __future__ import annotations

from typing import Any

from policies.model import ResourceView, RuleContext
from policies.rules.kubernetes.namespace_region_label import RULE
from policies.testing import DELETE, changed, details

NAMESPACE = "kubernetes:core/v1:Namespace"
PROPS = {
    "apiVersion": "v1",
    "kind": "Namespace",
    "metadata": {"name": "autocloud-eu", "labels": {"autocloud.io/region": "eu"}},
}


def label(value: object) -> dict[str, Any]:
    props = changed(PROPS, "metadata.labels", {"autocloud.io/region": value})
    return props if value is not DELETE else changed(PROPS, "metadata.labels", {})


def test_accepts_labelled_namespace(eu: RuleContext) -> None:
    assert details(RULE, ResourceView.of(NAMESPACE, PROPS), eu) == []


def test_refuses_other_region_label(eu: RuleContext) -> None:
    assert details(RULE, ResourceView.of(NAMESPACE, label("us")), eu) == [
        "label 'autocloud.io/region' is 'us' (allowed: 'eu')"
    ]


def test_refuses_missing_label(eu: RuleContext) -> None:
    assert "is not set" in details(RULE, ResourceView.of(NAMESPACE, label(DELETE)), eu)[0]


def test_refuses_namespace_without_labels(eu: RuleContext) -> None:
    assert len(details(RULE, ResourceView.of(NAMESPACE, changed(PROPS, "metadata.labels", DELETE)), eu)) == 1


def test_refuses_name_of_another_region(eu: RuleContext) -> None:
    props = changed(PROPS, "metadata.name", "autocloud-us")
    assert details(RULE, ResourceView.of(NAMESPACE, props), eu) == [
        "metadata.name 'autocloud-us' names region us (allowed: a name of region eu)"
    ]


def test_accepts_a_name_that_claims_no_region(eu: RuleContext) -> None:
    props = changed(PROPS, "metadata.name", "vehicle-platform")
    assert details(RULE, ResourceView.of(NAMESPACE, props), eu) == []
