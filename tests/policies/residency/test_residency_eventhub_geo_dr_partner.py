"""residency-eventhub-geo-dr-partner (stack rule: resolves the partner namespace)."""

from __future__ import annotations

from typing import Any

from policies.model import ResourceView, RuleContext
from policies.rules.residency.eventhub_geo_dr_partner import RULE
from policies.testing import DELETE, changed, details, judge

NAMESPACE = "azure-native:eventhub:Namespace"
DR = "azure-native:eventhub:DisasterRecoveryConfig"
PARTNER_ID = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.EventHub/namespaces/fleet-ns-dr"
DR_PROPS = {"namespaceName": "fleet-ns", "alias": "fleet", "partnerNamespace": PARTNER_ID}


def stack(partner_location: str = "northeurope", dr_props: dict[str, Any] | None = None) -> list[ResourceView]:
    return [
        ResourceView.of(NAMESPACE, {"location": "westeurope", "namespaceName": "fleet-ns"}, name="primary"),
        ResourceView.of(NAMESPACE, {"location": partner_location, "namespaceName": "fleet-ns-dr"}, name="secondary"),
        ResourceView.of(DR, DR_PROPS if dr_props is None else dr_props, name="dr"),
    ]


def test_accepts_partner_inside_boundary(eu: RuleContext) -> None:
    assert judge(RULE, stack(), eu) == []


def test_accepts_partner_by_logical_name(eu: RuleContext) -> None:
    assert judge(RULE, stack(dr_props=changed(DR_PROPS, "partnerNamespace", "secondary")), eu) == []


def test_refuses_partner_outside_boundary(eu: RuleContext) -> None:
    found = judge(RULE, stack(partner_location="eastus"), eu)
    assert len(found) == 1
    assert found[0].urn.endswith("::dr")
    assert "'secondary' is in 'eastus'" in found[0].message


def test_refuses_partner_not_in_stack(eu: RuleContext) -> None:
    found = details(RULE, stack(dr_props=changed(DR_PROPS, "partnerNamespace", "elsewhere-ns")), eu)
    assert "'elsewhere-ns' is not a namespace of this stack" in found[0]


def test_refuses_missing_partner(eu: RuleContext) -> None:
    assert (
        "partnerNamespace is not set"
        in details(RULE, stack(dr_props=changed(DR_PROPS, "partnerNamespace", DELETE)), eu)[0]
    )
