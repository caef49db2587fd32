"""kubernetes-no-external-name-service."""

from __future__ import annotations

from policies.model import ResourceView, RuleContext
from policies.rules.kubernetes.no_external_name_service import RULE
from policies.testing import changed, details

SERVICE = "kubernetes:core/v1:Service"
PROPS = {
    "metadata": {"name": "mqtt", "namespace": "autocloud-eu"},
    "spec": {"type": "ClusterIP", "ports": [{"port": 1883}], "selector": {"app": "mqtt"}},
}


def test_accepts_cluster_ip_service(eu: RuleContext) -> None:
    assert details(RULE, ResourceView.of(SERVICE, PROPS), eu) == []


def test_refuses_external_name(eu: RuleContext) -> None:
    props = changed(
        changed(PROPS, "spec.type", "ExternalName"), "spec.externalName", "mqtt.autocloud-us.svc.cluster.local"
    )
    found = details(RULE, ResourceView.of(SERVICE, props), eu)
    assert found == [
        "spec.type is 'ExternalName' aliasing 'mqtt.autocloud-us.svc.cluster.local', which NetworkPolicies cannot "
        "confine (allowed: ClusterIP, NodePort, LoadBalancer)"
    ]
