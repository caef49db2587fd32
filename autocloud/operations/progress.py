"""Live rollout progress: a rich table on a terminal, one line per change in CI logs.

Names and messages are printed as plain text: a wave called ``[eu]`` or an engine message holding
brackets is not rich markup.
"""

from __future__ import annotations

import threading
from types import TracebackType

from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from autocloud.operations.rollout import RolloutRun, StackProgress, WaveGate

STYLES = {
    "pending": "dim",
    "previewing": "cyan",
    "updating": "yellow",
    "checking": "cyan",
    "baking": "yellow",
    "done": "green",
    "passed": "green",
    "failed": "bold red",
    "skipped": "dim",
}


class RolloutView:
    """Shows every stack's status; safe to update from the rollout's worker threads. Without
    ``causes`` a failed stack's line leaves its cause to the caller, which prints it once at the end."""

    def __init__(self, console: Console, live: bool, causes: bool = True) -> None:
        self.console = console
        self.causes = causes
        self.live: Live | None = Live(console=console, refresh_per_second=4, transient=True) if live else None
        self.lock = threading.Lock()

    def __enter__(self) -> RolloutView:
        if self.live:
            self.live.__enter__()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.live:
            self.live.__exit__(exc_type, exc, tb)

    def update(self, run: RolloutRun, progress: StackProgress) -> None:
        with self.lock:
            if self.live:
                self.live.update(self.table(run))
            else:
                counts = _changes(progress)
                detail = f" ({counts})" if counts != "-" else ""
                failed = progress.status == "failed" and progress.message and self.causes
                note = f": {progress.message}" if failed else ""
                self.console.print(
                    f"[{progress.wave}] {progress.stack}: {progress.status}{detail}{note}",
                    markup=False,
                    highlight=False,
                    soft_wrap=True,
                )

    def gate_update(self, run: RolloutRun, gate: WaveGate) -> None:
        """A wave's gate changed: the table again, or one line (a failed gate's line says why)."""
        with self.lock:
            if self.live:
                self.live.update(self.table(run))
            else:
                note = f": {gate.message}" if gate.status == "failed" and gate.message and self.causes else ""
                self.console.print(
                    f"[{gate.wave}] gate: {gate.summary()}{note}", markup=False, highlight=False, soft_wrap=True
                )

    @staticmethod
    def table(run: RolloutRun) -> Table:
        table = Table(title=f"rollout {run.rollout.name}")
        for column in ("wave", "stack", "status", "resources", "seconds", "gate", "message"):
            table.add_column(column)
        for p in run.progress.values():
            gate = run.gate_of(p.wave)
            mine = [c for c in gate.checks if c.stack == p.stack and not c.ok] if gate else []
            message = "; ".join(c.line() for c in mine) if mine and gate and gate.status == "failed" else p.message
            table.add_row(
                Text(p.wave),
                Text(p.stack),
                Text(p.status, style=STYLES.get(p.status, "")),
                Text(_changes(p)),
                Text(f"{p.seconds:.1f}" if p.seconds else "-"),
                Text(gate.summary(), style=STYLES.get(gate.status, "")) if gate else Text("-"),
                Text(message[:200] or "-"),
            )
        return table


def _changes(progress: StackProgress) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(progress.changes.items())) or "-"
