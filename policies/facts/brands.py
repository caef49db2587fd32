"""Whose a role assignment is, when brands are tenants of a region: the facts both brand-scope rules use.

An assignment is a brand's when its ``principalId`` is the principal of an identity of the stack tagged
``brand: <name>`` (``platform_model.vocabulary.BRAND_TAG``). Where a brand identity's principal is only known
at deployment (a first preview), an assignment whose principal is unknown too cannot be attributed and is
reported as not verifiable; once every brand identity's principal is known, an unknown one is some other
identity's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from platform_model.vocabulary import BRAND_TAG
from policies.facts.azure import USER_ASSIGNED_IDENTITY
from policies.facts.props import get, known, unknown_at
from policies.model import ResourceView, UnknownValue, each

ScopeProblem = Callable[[object, str], "str | None"]
"""Why a scope is wrong for a brand (None: it is the brand's own), given the scope and the brand."""


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


def brand_assignment_problems(
    resources: Sequence[ResourceView], assignment_type: str, scope_problem: ScopeProblem
) -> Iterator[tuple[str, str]]:
    """(urn, problem) for each ``assignment_type`` whose principal is a brand's and whose scope
    ``scope_problem`` refuses; not verifiable where the principal or the scope is not known yet."""
    principals, pending = brand_principals(resources)
    if not principals and not pending:
        return

    def judge(assignment: ResourceView) -> Iterator[str]:
        if unknown_at(assignment.props, "principalId"):
            if pending:
                raise UnknownValue("principalId")
            return
        principal = get(assignment.props, "principalId")
        if not (isinstance(principal, str) and principal in principals):
            return
        if unknown_at(assignment.props, "scope"):
            raise UnknownValue("scope")
        problem = scope_problem(get(assignment.props, "scope"), principals[principal])
        if problem is not None:
            yield problem

    yield from each((r for r in resources if r.type == assignment_type), judge)
