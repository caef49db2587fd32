"""Helpers for rule tests: a compliant props dict, one field changed, one rule judged, so each test
shows the one difference that makes a rule speak.

Kept in the package so a new rule's tests, the pack tests and the benchmark build inputs the same way.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from policies.engine import Evaluator
from policies.model import ResourceView, Rule, RuleContext, Violation

DELETE = object()
"""Pass as the value to `changed` to remove the property instead."""


def changed(props: Mapping[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A deep copy of `props` with the dotted `path` (list indices as numbers) set to `value`, or
    removed when `value` is DELETE. Missing intermediate objects are created."""
    result = copy.deepcopy(dict(props))
    parts = path.split(".")
    current: Any = result
    for part in parts[:-1]:
        current = current[int(part)] if isinstance(current, list) else current.setdefault(part, {})
    last = parts[-1]
    if isinstance(current, list):
        if value is DELETE:
            del current[int(last)]
        else:
            current[int(last)] = value
    elif value is DELETE:
        current.pop(last, None)
    else:
        current[last] = value
    return result


def judge(rule: Rule, resources: ResourceView | Sequence[ResourceView], ctx: RuleContext) -> list[Violation]:
    """What one rule finds in one resource or a whole stack."""
    views = [resources] if isinstance(resources, ResourceView) else list(resources)
    return Evaluator([rule]).run(views, ctx).violations


def details(rule: Rule, resources: ResourceView | Sequence[ResourceView], ctx: RuleContext) -> list[str]:
    """The messages of `judge`, without the `[rule] resource (type): ` prefix."""
    return [v.message.split("): ", 1)[-1] for v in judge(rule, resources, ctx)]
