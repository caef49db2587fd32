"""kubernetes-network-policy-region (stack rule: knows the stack's namespaces and their labels)."""

from __future__ import annotations

from typing import Any

import pytest

from policies.model import ResourceView, RuleContext
from policies.rules.kubernetes.network_policy_region import RULE
from policies.testing import changed, details, judge

NAMESPACE = "kubernetes:core/v1:Namespace"
POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
OWN = {"matchLabels": {"autocloud.io/region": "eu"}}
POLICY_PROPS = {
    "metadata": {"name": "region-only", "namespace": "autocloud-eu"},
    "spec": {
        "podSelector": {},
        "policyTypes": ["Ingress", "Egress"],
        "ingress": [{"from": [{"namespaceSelector": OWN}, {"podSelector": {"matchLabels": {"app": "mqtt"}}}]}],
        "egress": [
            {"to": [{"namespaceSelector": OWN}]},
            {"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}}}]},
            {"to": [{"ipBlock": {"cidr": "10.0.0.0/8"}}]},
        ],
    },
}


def stack(policy_props: dict[str, Any]) -> list[ResourceView]:
    return [
        ResourceView.of(NAMESPACE, {"metadata": {"name": "autocloud-eu", "labels": {"autocloud.io/region": "eu"}}}),
        ResourceView.of(
            NAMESPACE, {"metadata": {"name": "fleet-b", "labels": {"autocloud.io/region": "us"}}}, name="b"
        ),
        ResourceView.of(POLICY, policy_props, name="region-only"),
    ]


def test_accepts_own_region_peers(eu: RuleContext) -> None:
    assert judge(RULE, stack(POLICY_PROPS), eu) == []


@pytest.mark.parametrize(
    ("selector", "problem"),
    [
        ({"matchLabels": {"autocloud.io/region": "us"}}, "matches autocloud.io/region='us'"),
        ({}, "selects every namespace"),
        ({"matchExpressions": [{"key": "autocloud.io/region", "operator": "NotIn", "values": ["eu"]}]}, "NotIn"),
        ({"matchExpressions": [{"key": "autocloud.io/region", "operator": "In", "values": ["eu", "cn"]}]}, "In ['cn']"),
        ({"matchLabels": {"kubernetes.io/metadata.name": "fleet-b"}}, "namespace 'fleet-b' of region us"),
        ({"matchLabels": {"kubernetes.io/metadata.name": "autocloud-cn"}}, "namespace 'autocloud-cn' of region cn"),
    ],
    ids=["other-region-label", "empty-selector", "not-in", "in-other", "declared-foreign-name", "named-foreign"],
)
def test_refuses_ingress_from_other_region(eu: RuleContext, selector: dict[str, Any], problem: str) -> None:
    props = changed(POLICY_PROPS, "spec.ingress.0.from.0.namespaceSelector", selector)
    found = judge(RULE, stack(props), eu)
    assert len(found) == 1
    assert found[0].urn.endswith("::region-only")
    assert "spec.ingress[0].from" in found[0].message and problem in found[0].message


def test_refuses_egress_to_other_region(eu: RuleContext) -> None:
    props = changed(
        POLICY_PROPS, "spec.egress.0.to.0.namespaceSelector", {"matchLabels": {"autocloud.io/region": "us"}}
    )
    assert "spec.egress[0].to" in details(RULE, stack(props), eu)[0]
