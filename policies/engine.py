"""Evaluating rules against a list of resources, the way `autocloud check` and the benchmark do.

Resource rules are indexed by type once, so each resource only meets the rules that look at its
type (plus the few that look at every type).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from policies.model import (
    ResourceRule,
    ResourceView,
    Rule,
    RuleContext,
    StackRule,
    UnknownValue,
    Violation,
    effective_enforcement,
    format_message,
    unverified,
    urn_type_and_name,
)


@dataclass(frozen=True)
class Evaluation:
    violations: list[Violation]
    checks: int
    """Resource-rule pairs evaluated (stack rules count once per resource they were given)."""

    @property
    def mandatory(self) -> list[Violation]:
        return [v for v in self.violations if v.enforcement == "mandatory"]


class Evaluator:
    """Rules prepared for repeated evaluation; `pack_of` names each rule's pack in the results."""

    def __init__(self, rules: Iterable[Rule], pack_of: Mapping[str, str] | None = None) -> None:
        self._pack_of = dict(pack_of or {})
        self._any_type: list[ResourceRule] = []
        self._by_type: dict[str, list[ResourceRule]] = {}
        self._stack_rules: list[StackRule] = []
        for rule in rules:
            if isinstance(rule, StackRule):
                self._stack_rules.append(rule)
            elif not rule.resource_types:
                self._any_type.append(rule)
            else:
                for type_ in rule.resource_types:
                    self._by_type.setdefault(type_, []).append(rule)

    def rules_for(self, type_: str) -> list[ResourceRule]:
        return self._by_type.get(type_, []) + self._any_type

    def run(self, resources: Sequence[ResourceView], ctx: RuleContext, stack: str = "") -> Evaluation:
        violations: list[Violation] = []
        checks = 0
        for view in resources:
            for rule in self.rules_for(view.type):
                checks += 1
                try:
                    for detail in rule.validate(view, ctx):
                        violations.append(self._violation(rule, ctx, view.urn, view, detail, stack))
                except UnknownValue as error:
                    violations.append(self._violation(rule, ctx, view.urn, view, unverified(error), stack))
        by_urn = {view.urn: view for view in resources}
        for stack_rule in self._stack_rules:
            checks += len(resources)
            for urn, detail in stack_rule.validate(resources, ctx):
                violations.append(self._violation(stack_rule, ctx, urn, by_urn.get(urn), detail, stack))
        return Evaluation(violations, checks)

    def _violation(
        self, rule: Rule, ctx: RuleContext, urn: str, view: ResourceView | None, detail: str, stack: str
    ) -> Violation:
        type_, name = (view.type, view.name) if view is not None else urn_type_and_name(urn)
        return Violation(
            policy=rule.name,
            enforcement=effective_enforcement(rule, ctx, detail),
            urn=urn,
            type=type_,
            message=format_message(rule.name, name, type_, detail),
            pack=self._pack_of.get(rule.name, ""),
            stack=stack,
            resource=name,
            detail=detail,
        )
