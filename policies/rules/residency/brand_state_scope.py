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

from platform_model.vocabulary import brand_container
from policies.facts.azure import COSMOS_SQL_ROLE_ASSIGNMENT
from policies.facts.brands import brand_assignment_problems
from policies.model import ResourceView, RuleContext, StackRule

SOURCE = "learn.microsoft.com/azure/cosmos-db/how-to-setup-rbac"


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
    yield from brand_assignment_problems(resources, COSMOS_SQL_ROLE_ASSIGNMENT, scope_problem)


RULE = StackRule(
    name="residency-brand-state-scope",
    description="A brand's consumer identity holds Cosmos DB data roles on its own brand's container only.",
    remediation=(
        "Scope the brand writer's Cosmos DB role assignment to .../dbs/vehicles/colls/vehicle-state-<brand> "
        "(VehicleStateStore.grant_data_contributor with the brand's container)."
    ),
    validate=validate,
)
