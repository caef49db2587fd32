"""``autocloud drift``: what differs between what a stack declares and what runs, read-only.

Each stack gets a refresh *preview* (``pulumi refresh --preview-only``): the engine reads every resource
back from its target and compares it with the stack's state, which holds what the program declared
at its last ``up``, and it writes nothing (``tests/integration/test_drift.py`` compares the state files
before and after). What the refresh would change is the drift:

- ``changed``: a property whose running value is not the declared one (a Deployment scaled by hand, an
  edited ConfigMap), with both values;
- ``missing``: a declared resource that no longer exists (deleted by hand).

A refreshed ``preview`` of the program would say the same in theory, but with server-side apply a
Kubernetes preview fails outright on a field another manager took (``kubectl scale``), so it cannot
report what it finds.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from pulumi import automation as auto

from platform_model.errors import AutocloudError

MISSING = "<missing>"
"""How a value that is not there reads in a finding."""


class DriftError(AutocloudError):
    """A stack could not be checked (not deployed, target unreachable); one line for the user."""


@dataclass(frozen=True)
class Drift:
    """One difference between a running resource and its declaration."""

    resource: str
    """``<type>::<name>`` of the resource."""
    change: str
    """``changed`` (a property differs) or ``missing`` (the resource is gone)."""
    property: str
    """The property path (``spec.replicas``), or ``""`` for the whole resource."""
    deployed: Any
    """What runs (``<missing>`` when absent)."""
    declared: Any
    """What the program declares (``<missing>`` when it declares nothing there)."""


def _lookup(values: Mapping[str, Any] | None, path: str) -> Any:
    """The value at a property path such as ``spec.template.spec.containers[0].image``, or MISSING."""
    current: Any = values or {}
    for part in path.replace("]", "").replace("[", ".").split("."):
        if isinstance(current, Mapping) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return MISSING
    return current


def _name(urn: str) -> str:
    """``<type>::<name>`` from a URN ``urn:pulumi:<stack>::<project>::<type chain>::<name>``."""
    parts = urn.split("::")
    return f"{parts[-2].split('$')[-1]}::{parts[-1]}" if len(parts) >= 4 else urn


def findings(events: Iterable[auto.EngineEvent]) -> list[Drift]:
    """The drift a refresh preview's events show: its steps' results, in the engine's order."""
    found: list[Drift] = []
    for event in events:
        done = event.res_outputs_event
        if done is None:
            continue
        meta = done.metadata
        if meta.type.startswith("pulumi:providers:") or meta.type == "pulumi:pulumi:Stack":
            continue
        resource = _name(meta.urn)
        if meta.op.value == "delete":
            found.append(Drift(resource, "missing", "", MISSING, "declared"))
        elif meta.op.value == "update":
            declared = meta.old.inputs if meta.old is not None else None
            stored = meta.old.outputs if meta.old is not None else None
            live = meta.new.outputs if meta.new is not None else None
            for key in sorted((meta.detailed_diff or {}).keys()) or sorted(meta.diffs or []) or [""]:
                wanted = _lookup(declared, key)
                found.append(
                    Drift(
                        resource,
                        "changed",
                        key,
                        _lookup(live, key),
                        _lookup(stored, key) if wanted == MISSING else wanted,
                    )
                )
    return found


def stack_drift(stack: auto.Stack) -> list[Drift]:
    """Refresh ``stack`` as a preview and return what differs; the stack's state is left as it was."""
    events: list[auto.EngineEvent] = []
    try:
        stack.preview_refresh(on_event=events.append, color="never")
    except auto.errors.CommandError as exc:
        lines = [line.rsplit("error:", 1)[1].strip() for line in str(exc).splitlines() if "error:" in line]
        raise DriftError(f"{stack.name}: cannot check drift: {lines[-1] if lines else 'the refresh failed'}") from None
    return findings(events)


def report(results: Mapping[str, Sequence[Drift]], fmt: str) -> str:
    """The drift of every checked stack as text, JSON or Markdown."""
    if fmt == "json":
        document = {name: [asdict(d) for d in drift] for name, drift in results.items()}
        return json.dumps({"drift": document, "drifted": any(results.values())}, indent=2, default=str) + "\n"
    markdown = fmt == "markdown"
    lines: list[str] = ["## Drift", ""] if markdown else []
    for name, drift in results.items():
        if not drift:
            lines.append(f"{'- ' if markdown else ''}{name}: no drift")
            continue
        lines.append(f"{'### ' if markdown else ''}{name}: {len(drift)} difference(s)")
        if markdown:
            lines += ["", "| resource | change | property | deployed | declared |", "|---|---|---|---|---|"]
        for d in drift:
            cells = (d.resource, d.change, d.property or "-", _show(d.deployed), _show(d.declared))
            lines.append("| " + " | ".join(cells) + " |" if markdown else "  " + "  ".join(cells))
        if markdown:
            lines.append("")
    return "\n".join(lines) + "\n"


def _show(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= 80 else text[:77] + "..."


def check_stacks(
    names: Sequence[str], open_stack: Callable[[str], auto.Stack]
) -> tuple[dict[str, list[Drift]], list[str]]:
    """Drift per stack, and one error line for each stack that could not be checked."""
    results: dict[str, list[Drift]] = {}
    errors: list[str] = []
    for name in names:
        try:
            results[name] = stack_drift(open_stack(name))
        except AutocloudError as exc:
            errors.append(str(exc))
    return results, errors
