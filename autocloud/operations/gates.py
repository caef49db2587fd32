"""Health gates of a rollout wave: what "the region still works" means after the wave is applied.

A wave's ``gate:`` holds a ``simulate`` check (the region's own simulated vehicles end to end through
DPS, the hub, Kafka and the store) and/or a ``command`` check (any program; exit 0 is healthy; it
gets the stack's outputs in its environment). Each check runs once per stack of the wave. ``bake:``
keeps the wave under watch for a while after that: the gate runs again every :func:`bake_interval`
and must keep passing, so a fault that shows only under time (a crash loop, a leak, a slow consumer)
halts the rollout before the next wave, as Azure's safe deployment practice has each wave bake
under health signals before the next one starts.

The schema lives here; the rollout runner (``autocloud.operations.rollout``) decides when gates run,
and :class:`StackGate` runs the checks for real.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from platform_model.errors import excerpt, one_line
from platform_model.paths import REPO_ROOT, STATE_DIR

_DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
MAX_BAKE_SECONDS = 24 * 3600
"""A bake longer than a day is a release schedule, not a wave's watch."""
BAKE_INTERVAL_SECONDS = 30.0
"""The longest wait between two runs of the gate while a wave bakes."""
COMMAND_TIMEOUT_SECONDS = 600.0
"""How long one run of a gate command may take before it counts as failed."""
MAX_COMMAND_CHARS = 2000


def duration_seconds(text: str) -> int:
    """``"1h30m"``, ``"5m"``, ``"30s"`` -> seconds; ValueError (the message a user reads) otherwise."""
    match = _DURATION.match(text.strip()) if isinstance(text, str) else None
    if not isinstance(text, str) or match is None or not any(match.groups()):
        raise ValueError(f"{excerpt(text)} is not a duration such as 30s, 5m or 1h30m")
    hours, minutes, seconds = (int(g or 0) for g in match.groups())
    return hours * 3600 + minutes * 60 + seconds


def _duration(value: Any) -> str:
    total = duration_seconds(value)
    if not 1 <= total <= MAX_BAKE_SECONDS:
        raise ValueError(f"{excerpt(value)} must be between 1s and 24h")
    return str(value).strip()


Duration = Annotated[str, BeforeValidator(_duration)]
"""A duration as written (``5m``), checked; :func:`duration_seconds` reads it."""


def bake_interval(bake_seconds: float) -> float:
    """How often the gate runs while a wave bakes: every 30 s, or five times over a shorter bake."""
    return min(BAKE_INTERVAL_SECONDS, bake_seconds / 5)


class SimulateGate(BaseModel):
    """``simulate: {vehicles: N, messages: M}``: the region's simulated vehicles, as `autocloud simulate`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    vehicles: int = Field(ge=1, le=10_000)
    messages: int = Field(default=10, ge=1, le=10_000)


def _command(value: Any) -> Any:
    if isinstance(value, str) and ("\x00" in value or not value.strip()):
        raise ValueError("must be a non-empty command line")
    return value


class Gate(BaseModel):
    """A wave's health checks; at least one of ``simulate`` and ``command``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    simulate: SimulateGate | None = None
    command: Annotated[str, BeforeValidator(_command), Field(max_length=MAX_COMMAND_CHARS)] | None = None

    @model_validator(mode="after")
    def _some_check(self) -> Gate:
        if self.simulate is None and self.command is None:
            raise ValueError("needs `simulate: {vehicles: N, messages: M}`, `command: ...` or both")
        return self


CheckKind = Literal["simulate", "command"]


@dataclass(frozen=True)
class Check:
    """One check of one stack, one run: whether it passed and, either way, what it saw."""

    stack: str
    kind: CheckKind
    ok: bool
    detail: str

    def line(self) -> str:
        return f"{self.stack} {self.kind}: {self.detail}"

    def to_json(self) -> dict[str, Any]:
        return {"stack": self.stack, "check": self.kind, "ok": self.ok, "detail": self.detail}


def output_environment(stack: str, outputs: Mapping[str, Any]) -> dict[str, str]:
    """What a gate command finds in its environment: ``AUTOCLOUD_STACK``, every output as JSON in
    ``AUTOCLOUD_OUTPUTS``, and each scalar output as ``AUTOCLOUD_OUTPUT_<KEY>`` (key upper-cased,
    other characters as ``_``; booleans ``true``/``false``)."""
    env = {"AUTOCLOUD_STACK": stack, "AUTOCLOUD_OUTPUTS": json.dumps(dict(outputs), sort_keys=True, default=str)}
    for key, value in outputs.items():
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, str | int | float):
            text = str(value)
        else:
            continue
        env["AUTOCLOUD_OUTPUT_" + re.sub(r"[^A-Z0-9]", "_", key.upper())] = text
    return env


def run_command(
    stack: str, command: str, outputs: Mapping[str, Any], timeout: float = COMMAND_TIMEOUT_SECONDS
) -> Check:
    """Run a gate command with ``/bin/sh -c`` from the repository root (as a workflow's ``run:``
    step would), the stack's outputs in its environment; exit 0 is healthy."""
    env = {**os.environ, **output_environment(stack, outputs)}
    try:
        proc = subprocess.run(
            ["/bin/sh", "-c", command],
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return Check(stack, "command", False, f"{excerpt(command)} did not finish within {timeout:g}s")
    except OSError as exc:
        return Check(stack, "command", False, f"{excerpt(command)} could not start: {exc.strerror or exc}")
    said = (proc.stderr.strip() or proc.stdout.strip()).splitlines()
    last = f": {one_line(said[-1], 200)}" if said else ""
    if proc.returncode != 0:
        return Check(stack, "command", False, f"{excerpt(command)} exited {proc.returncode}{last}")
    return Check(stack, "command", True, f"{excerpt(command)} exited 0")


def simulate_check(
    stack: str,
    target_local: bool,
    region: str,
    namespace: str | None,
    spec: SimulateGate,
    *,
    fleet_dir: Path | None = None,
    outputs: Mapping[str, Any] | None = None,
) -> Check:
    """Drive the region's simulated vehicles, as `autocloud simulate` does: a local stack's namespace, or
    an Azure stack's DPS and hubs from its ``outputs`` (there "delivered" is what IoT Hub acknowledged:
    its Cosmos DB is private). Healthy means every vehicle registered and connected and no message was
    lost. A problem reaching the region is a failed check, not a crash of the rollout."""
    from autocloud.operations import simulate

    what = f"{spec.vehicles} vehicles x {spec.messages} messages"
    args = simulate.SimulationArgs(region, spec.vehicles, spec.messages, namespace=namespace, fleet_dir=fleet_dir)
    try:
        result = simulate.run(args) if target_local else simulate.run_azure(stack, args, outputs or {})
    except Exception as exc:  # a gate reports any failure to check as unhealthy, naming it
        problem = f"{type(exc).__name__}: {one_line(str(exc), 300)}"
        return Check(stack, "simulate", False, f"{what}: could not run: {problem}")
    problems = []
    if result.lost:
        problems.append(f"lost {result.lost} of {result.sent} messages")
    for reason, count in sorted(result.refused.items()):
        problems.append(f"{count} vehicle{'s' if count != 1 else ''} refused ({reason})")
    if problems:
        return Check(stack, "simulate", False, f"{what}: " + "; ".join(problems))
    counted = f"{result.stored} stored" if result.store_read else f"{result.delivered} acknowledged by IoT Hub"
    return Check(stack, "simulate", True, f"{what}: {counted}, none lost")


OutputsReader = Callable[[str], Mapping[str, Any]]


@dataclass
class StackGate:
    """Runs a wave's gate on one stack for real (the CLI's checker): ``simulate`` on the stack's local
    region and namespace, ``command`` with the stack's outputs (from this run's apply, else read from its
    state, secrets shown as ``[secret]`` as the apply reports them)."""

    state_dir: Path = STATE_DIR
    backend_url: str | None = None

    def read_outputs(self, stack: str) -> Mapping[str, Any]:
        from autocloud.runtime import engine

        handle = engine.existing_stack(stack, self.state_dir, self.backend_url)
        return {key: ("[secret]" if out.secret else out.value) for key, out in handle.outputs().items()}

    def __call__(
        self, stack: str, overrides: Mapping[str, Any], gate: Gate, outputs: Mapping[str, Any] | None
    ) -> list[Check]:
        from platform_model.stack import resolve_stack

        checks: list[Check] = []
        config = resolve_stack(stack, overrides=overrides).config
        # A command gets the outputs; so does a simulate gate on Azure (its DPS and hubs).
        unreadable = None
        if outputs is None and (gate.command is not None or (gate.simulate is not None and not config.is_local)):
            try:
                outputs = self.read_outputs(stack)
            except Exception as exc:  # not deployed, backend unreachable: the gate cannot pass
                unreadable = f"could not read the stack's outputs: {one_line(str(exc), 300)}"
        if gate.simulate is not None:
            if unreadable and not config.is_local:
                checks.append(Check(stack, "simulate", False, unreadable))
            else:
                namespace = config.local_namespace if config.is_local else None
                fleet = self.state_dir / "fleet"
                checks.append(
                    simulate_check(
                        stack,
                        config.is_local,
                        config.region,
                        namespace,
                        gate.simulate,
                        fleet_dir=fleet,
                        outputs=outputs,
                    )
                )
        if gate.command is not None:
            checks.append(
                Check(stack, "command", False, unreadable)
                if unreadable
                else run_command(stack, gate.command, outputs or {})
            )
        return checks
