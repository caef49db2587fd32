"""residency-brand-stream-scope (stack rule: a brand's identity holds Event Hubs roles on its own hub only)."""

from __future__ import annotations

from policies.model import UNKNOWN_PREFIX, ResourceView, RuleContext
from policies.rules.residency.brand_stream_scope import RULE
from policies.testing import judge

IDENTITY = "azure-native:managedidentity:UserAssignedIdentity"
ASSIGNMENT = "azure-native:authorization:RoleAssignment"
GROUP = "/subscriptions/s/resourceGroups/rg-eu"
NAMESPACE = f"{GROUP}/providers/Microsoft.EventHub/namespaces/evhns-eu-1"
RECEIVER = "/subscriptions/s/providers/Microsoft.Authorization/roleDefinitions/a638d3c7-ab3a-418d-83e6-5f17a39d4fde"
ALPHA, BETA, OTHER = "principal-alpha", "principal-beta", "principal-iothub"
UNKNOWN = f"{UNKNOWN_PREFIX} output>"


def identity(name: str, principal: str, brand: str | None) -> ResourceView:
    tags = {"region": "eu"} | ({"brand": brand} if brand else {})
    return ResourceView.of(IDENTITY, {"location": "westeurope", "tags": tags, "principalId": principal}, name=name)


def assignment(name: str, principal: str, scope: str) -> ResourceView:
    props = {"principalId": principal, "principalType": "ServicePrincipal", "roleDefinitionId": RECEIVER}
    return ResourceView.of(ASSIGNMENT, props | {"scope": scope}, name=name)


def hub(name: str) -> str:
    return f"{NAMESPACE}/eventhubs/{name}"


def stack(alpha_scope: str = hub("telemetry-alpha"), alpha_principal: str = ALPHA) -> list[ResourceView]:
    return [
        identity("eu-writer-alpha-identity", alpha_principal, "alpha"),
        identity("eu-writer-beta-identity", BETA, "beta"),
        assignment("eu-writer-alpha-receives-1", ALPHA, alpha_scope),
        assignment("eu-writer-beta-receives-1", BETA, hub("telemetry-beta")),
        # The hub's system identity sends to the whole namespace: not a brand's, not this rule's business.
        assignment("eu-telemetry-1-trusted-sender", OTHER, NAMESPACE),
        # A brand's identity on its own Cosmos DB container: another provider, another rule.
        assignment("eu-writer-alpha-other", ALPHA, f"{GROUP}/providers/Microsoft.DocumentDB/databaseAccounts/a"),
    ]


def test_accepts_each_brand_on_its_own_hub(eu: RuleContext) -> None:
    assert judge(RULE, stack(), eu) == []


def test_accepts_a_consumer_group_of_its_own_hub(eu: RuleContext) -> None:
    assert judge(RULE, stack(alpha_scope=f"{hub('telemetry-alpha')}/consumergroups/statewriter-alpha"), eu) == []


def test_accepts_any_case_of_the_arm_id(eu: RuleContext) -> None:
    assert (
        judge(RULE, stack(alpha_scope=hub("telemetry-alpha").replace("Microsoft.EventHub", "microsoft.eventhub")), eu)
        == []
    )


def test_refuses_another_brands_hub(eu: RuleContext) -> None:
    [found] = judge(RULE, stack(alpha_scope=hub("telemetry-beta")), eu)
    assert found.urn.endswith("::eu-writer-alpha-receives-1")
    assert "event hub 'telemetry-beta', another tenant's telemetry (allowed: only telemetry-alpha" in found.message
    assert found.enforcement == "mandatory"


def test_refuses_the_regions_shared_hub(eu: RuleContext) -> None:
    [found] = judge(RULE, stack(alpha_scope=hub("telemetry")), eu)
    assert "event hub 'telemetry', another tenant's telemetry" in found.message


def test_refuses_the_namespace_scope(eu: RuleContext) -> None:
    [found] = judge(RULE, stack(alpha_scope=NAMESPACE), eu)
    assert "covers every brand's telemetry hub" in found.message


def test_refuses_the_resource_group_scope(eu: RuleContext) -> None:
    [found] = judge(RULE, stack(alpha_scope=GROUP), eu)
    assert "a subscription, resource group or management group" in found.message


def test_refuses_a_missing_scope(eu: RuleContext) -> None:
    [found] = judge(RULE, stack(alpha_scope=""), eu)
    assert "with scope ''" in found.message


def test_an_unknown_scope_is_not_verifiable(eu: RuleContext) -> None:
    found = judge(RULE, stack(alpha_scope=UNKNOWN), eu)
    assert [(f.urn.rsplit("::", 1)[-1], f.enforcement) for f in found] == [("eu-writer-alpha-receives-1", "advisory")]


def test_a_principal_only_deployment_knows_is_not_verifiable(eu: RuleContext) -> None:
    resources = stack(alpha_principal=UNKNOWN)
    resources[2] = assignment("eu-writer-alpha-receives-1", UNKNOWN, NAMESPACE)
    found = judge(RULE, resources, eu)
    assert ("eu-writer-alpha-receives-1", "advisory") in [(f.urn.rsplit("::", 1)[-1], f.enforcement) for f in found]


def test_an_unknown_principal_is_not_a_brands_once_every_brand_is_known(eu: RuleContext) -> None:
    resources = [*stack(), assignment("eu-capture-writer", UNKNOWN, NAMESPACE)]
    assert judge(RULE, resources, eu) == []


def test_a_stack_without_brands_is_not_judged(eu: RuleContext) -> None:
    resources = [identity("eu-writer-identity", ALPHA, None), assignment("eu-writer-receives-1", ALPHA, NAMESPACE)]
    assert judge(RULE, resources, eu) == []
