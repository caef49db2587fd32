"""residency-brand-state-scope (stack rule: a brand's identity holds Cosmos DB roles on its own container only)."""

from __future__ import annotations

from typing import Any

from policies.model import UNKNOWN_PREFIX, ResourceView, RuleContext
from policies.rules.residency.brand_state_scope import RULE
from policies.testing import judge

IDENTITY = "azure-native:managedidentity:UserAssignedIdentity"
ASSIGNMENT = "azure-native:cosmosdb:SqlResourceSqlRoleAssignment"
ACCOUNT = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.DocumentDB/databaseAccounts/ac-eu-state"
ALPHA, BETA, OTHER = "principal-alpha", "principal-beta", "principal-stream-processor"
UNKNOWN = f"{UNKNOWN_PREFIX} output>"


def identity(name: str, principal: str, brand: str | None) -> ResourceView:
    tags = {"region": "eu"} | ({"brand": brand} if brand else {})
    return ResourceView.of(IDENTITY, {"location": "westeurope", "tags": tags, "principalId": principal}, name=name)


def assignment(name: str, principal: str, scope: str) -> ResourceView:
    props: dict[str, Any] = {
        "accountName": "ac-eu-state",
        "principalId": principal,
        "roleDefinitionId": f"{ACCOUNT}/sqlRoleDefinitions/00000000-0000-0000-0000-000000000002",
        "scope": scope,
    }
    return ResourceView.of(ASSIGNMENT, props, name=name)


def container(name: str) -> str:
    return f"{ACCOUNT}/dbs/vehicles/colls/{name}"


def stack(alpha_scope: str = container("vehicle-state-alpha"), alpha_principal: str = ALPHA) -> list[ResourceView]:
    return [
        identity("eu-writer-alpha-identity", alpha_principal, "alpha"),
        identity("eu-writer-beta-identity", BETA, "beta"),
        identity("eu-processor-identity", OTHER, None),
        assignment("eu-writer-alpha-stores", ALPHA, alpha_scope),
        assignment("eu-writer-beta-stores", BETA, container("vehicle-state-beta")),
        # Not a brand's identity: not this rule's business.
        assignment("eu-processor-reads", OTHER, ACCOUNT),
    ]


def test_accepts_each_brand_on_its_own_container(eu: RuleContext) -> None:
    assert judge(RULE, stack(), eu) == []


def test_refuses_another_brands_container(eu: RuleContext) -> None:
    [found] = judge(RULE, stack(alpha_scope=container("vehicle-state-beta")), eu)
    assert found.urn.endswith("::eu-writer-alpha-stores")
    assert "container 'vehicle-state-beta', another tenant's state (allowed: only vehicle-state-alpha" in found.message
    assert found.enforcement == "mandatory"


def test_refuses_the_account_scope(eu: RuleContext) -> None:
    [found] = judge(RULE, stack(alpha_scope=ACCOUNT), eu)
    assert "covers every brand's container" in found.message


def test_refuses_the_database_scope(eu: RuleContext) -> None:
    [found] = judge(RULE, stack(alpha_scope=f"{ACCOUNT}/dbs/vehicles"), eu)
    assert "covers every brand's container" in found.message


def test_refuses_the_regions_shared_container(eu: RuleContext) -> None:
    [found] = judge(RULE, stack(alpha_scope=container("vehicle-state")), eu)
    assert "container 'vehicle-state', another tenant's state" in found.message


def test_refuses_a_missing_scope(eu: RuleContext) -> None:
    [found] = judge(RULE, stack(alpha_scope=""), eu)
    assert "with scope ''" in found.message


def test_a_principal_only_deployment_knows_is_not_verifiable(eu: RuleContext) -> None:
    resources = stack(alpha_principal=UNKNOWN)
    resources[3] = assignment("eu-writer-alpha-stores", UNKNOWN, ACCOUNT)
    found = judge(RULE, resources, eu)
    assert [(f.urn.rsplit("::", 1)[-1], f.enforcement) for f in found] == [("eu-writer-alpha-stores", "advisory")]
    assert "cannot verify" in found[0].message


def test_a_stack_without_brands_is_not_judged(eu: RuleContext) -> None:
    resources = [identity("eu-writer-identity", ALPHA, None), assignment("eu-writer-stores", ALPHA, ACCOUNT)]
    assert judge(RULE, resources, eu) == []
