"""A brand's consumer identity may use its own brand's vehicle-state container and nothing wider.

Brands are tenants of a regional platform (``platform_model.brands``): each brand's state writer runs as
its own user-assigned identity, tagged ``brand: <name>``, and holds a Cosmos DB data-plane role on
``vehicle-state-<name>`` only. "A role assignment also defines the scope that the role definition applies
to": "An Azure Cosmos DB account", "An Azure Cosmos DB database", "An Azure Cosmos DB container"
(https://learn.microsoft.com/azure/cosmos-db/how-to-setup-rbac, "Concepts"), written in ARM under the
account's id as ``.../dbs/<database>`` and ``.../dbs/<database>/colls/<container>`` (the same page, and
``components/state.py``). So an assignment whose principal is a brand's
identity must be scoped to exactly that brand's container: the account or a database scope would let it
read every brand's state, another brand's container is another brand's data.

An assignment is a brand's when its ``principalId`` is the principal of an identity of this stack tagged
with a brand. Where either principal is only known at deployment (a first preview), the assignment cannot
be attributed and is reported as not verifiable.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from platform_model.vocabulary import BRAND_TAG, brand_container
from policies.facts.azure import COSMOS_SQL_ROLE_ASSIGNMENT, USER_ASSIGNED_IDENTITY
from policies.facts.props import get, known, unknown_at
from policies.model import ResourceView, RuleContext, StackRule, UnknownValue, each

SOURCE = "learn.microsoft.com/azure/cosmos-db/how-to-setup-rbac"


def brand_principals(resources: Sequence[ResourceView]) -> tuple[dict[str, str], bool]:
    """principal id -> brand, for the stack's identities tagged with a brand; and whether a brand's
    identity has a principal only deployment will know."""
    found: dict[str, str] = {}
    pending = False
    for view in resources:
        if view.type != USER_ASSIGNED_IDENTITY:
            continue
        brand = known(view.props, f"tags.{BRAND_TAG}")
        if not isinstance(brand, str) or not brand:
            continue
        principal = None if unknown_at(view.props, "principalId") else get(view.props, "principalId")
        if isinstance(principal, str) and principal:
            found[principal] = brand
        else:
            pending = True
    return found, pending


def scope_problem(scope: object, brand: str) -> str | None:
    """Why ``scope`` is not exactly ``brand``'s own container (None: it is)."""
    own = brand_container(brand)
    if not isinstance(scope, str) or not scope:
        return f"brand {brand!r}'s identity has a Cosmos DB role with scope {scope!r} (allowed: .../colls/{own})"
    parts = scope.rstrip("/").split("/")
    if len(parts) >= 4 and parts[-4] == "dbs" and parts[-2] == "colls":
        if parts[-1] == own:
            return None
        return (
            f"brand {brand!r}'s identity has a Cosmos DB role on container {parts[-1]!r}, another tenant's "
            f"state (allowed: only {own}; source: {SOURCE})"
        )
    return (
        f"brand {brand!r}'s identity has a Cosmos DB role scoped to {scope!r}, which covers every brand's "
        f"container (allowed: only .../dbs/<database>/colls/{own}; source: {SOURCE})"
    )


def validate(resources: Sequence[ResourceView], ctx: RuleContext) -> Iterator[tuple[str, str]]:
    principals, pending = brand_principals(resources)
    if not principals and not pending:
        return

    def judge(assignment: ResourceView) -> Iterator[str]:
        if unknown_at(assignment.props, "principalId"):
            if pending or principals:
                raise UnknownValue("principalId")
            return
        principal = get(assignment.props, "principalId")
        if isinstance(principal, str) and principal in principals:
            problem = scope_problem(get(assignment.props, "scope"), principals[principal])
            if problem is not None:
                yield problem

    yield from each((r for r in resources if r.type == COSMOS_SQL_ROLE_ASSIGNMENT), judge)


RULE = StackRule(
    name="residency-brand-state-scope",
    description="A brand's consumer identity holds Cosmos DB data roles on its own brand's container only.",
    remediation=(
        "Scope the brand writer's Cosmos DB role assignment to .../dbs/vehicles/colls/vehicle-state-<brand> "
        "(VehicleStateStore.grant_data_contributor with the brand's container)."
    ),
    validate=validate,
)
