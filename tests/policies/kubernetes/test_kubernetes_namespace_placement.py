"""kubernetes-namespace-placement (stack rule)."""

from __future__ import annotations

from typing import Any

from policies.model import ResourceView, RuleContext
from policies.rules.kubernetes.namespace_placement import RULE
from policies.testing import changed, details, judge

NAMESPACE = "kubernetes:core/v1:Namespace"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
PROPS = {"metadata": {"name": "mqtt", "namespace": "autocloud-eu"}, "spec": {}}


def stack(props: dict[str, Any]) -> list[ResourceView]:
    return [
        ResourceView.of(NAMESPACE, {"metadata": {"name": "autocloud-eu", "labels": {"autocloud.io/region": "eu"}}}),
        ResourceView.of(DEPLOYMENT, props, name="mqtt"),
        ResourceView.of("kubernetes:core/v1:Namespace", {"metadata": {"name": "tools"}}, name="unlabelled"),
    ]


def test_accepts_own_namespace(eu: RuleContext) -> None:
    assert judge(RULE, stack(PROPS), eu) == []


def test_accepts_unknown_namespace(eu: RuleContext) -> None:
    assert judge(RULE, stack(changed(PROPS, "metadata.namespace", "tools")), eu) == []


def test_refuses_other_region_namespace(eu: RuleContext) -> None:
    found = details(RULE, stack(changed(PROPS, "metadata.namespace", "autocloud-us")), eu)
    assert found == ["metadata.namespace 'autocloud-us' belongs to region us (allowed: namespaces of region eu)"]
