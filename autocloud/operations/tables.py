"""What `up` and `down` print about their stacks: a result row each, what each made, and each failed
stack's cause once, as one plain line after the tables (a table cell would wrap it over many rows).

Cells are plain Text, so an engine message or a name holding ``[...]`` prints as is, not as markup.
"""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text

from autocloud.operations.deploy import StackResult


def flatten(value: Any, prefix: str = "") -> dict[str, str]:
    """Nested stack outputs as dotted keys (`endpoints.telemetry[0].mqtt`), for printing."""
    if isinstance(value, dict):
        items: dict[str, str] = {}
        for key, inner in value.items():
            items |= flatten(inner, f"{prefix}.{key}" if prefix else str(key))
        return items
    if isinstance(value, list):
        items = {}
        for index, inner in enumerate(value):
            items |= flatten(inner, f"{prefix}[{index}]")
        return items
    return {} if value is None else {prefix: str(value)}


def results_table(results: list[StackResult]) -> Table:
    """One row per stack."""
    table = Table(title="autocloud stacks")
    for column in ("stack", "region", "operation", "result", "changes", "seconds"):
        table.add_column(column)
    for r in results:
        changes = ", ".join(f"{k} {v}" for k, v in sorted(r.changes.items())) or "-"
        table.add_row(
            *map(Text, (r.stack, r.region, r.operation, "ok" if r.ok else "FAILED", changes, f"{r.seconds:.1f}"))
        )
    return table


def outputs_table(results: list[StackResult]) -> Table:
    """What each stack made: namespace, location and every endpoint, one row each; a failed stack's
    row points to its cause in `failures`."""
    table = Table(title="what was made")
    for column in ("stack", "output", "value"):
        table.add_column(column, overflow="fold")
    for r in results:
        if not r.ok:
            table.add_row(Text(r.stack), Text("error"), Text(f"{r.operation} failed (cause below)"))
            continue
        for key, value in sorted(flatten(r.outputs).items()):
            table.add_row(Text(r.stack), Text(key), Text(value))
    return table


def failures(results: list[StackResult]) -> list[str]:
    """One line per failed stack: which step failed and the engine's cause."""
    return [f"{r.stack}: {r.operation} failed: {r.message or 'no cause reported'}" for r in results if not r.ok]
