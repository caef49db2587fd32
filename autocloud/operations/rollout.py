"""Region rollouts: waves of stacks from a file, each stack previewed with the policy packs and then
applied (or only previewed) through the one deploy seam, `deploy.deploy_stack`.

A wave runs its stacks in parallel (up to its `parallel`); the first failure lets the wave's running
stacks finish, marks the rest skipped and starts no later wave. A wave with a `gate` is then checked
(`autocloud.operations.gates`) and, with a `bake`, watched for that long; a failed gate halts the
rollout the same way. Progress, gates included, is saved after every change in
`.state/rollouts/<name>.json`, so `--resume` carries on with what had not finished.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from autocloud.operations.deploy import ConfigValue, StackResult
from autocloud.operations.gates import Check, Duration, Gate, StackGate, bake_interval, duration_seconds
from autocloud.runtime.backend import validate_backend_url
from platform_model.errors import ConfigError, excerpt
from platform_model.files import write_atomically
from platform_model.inputs import load_yaml
from platform_model.paths import REPO_ROOT, STACKS_DIR, STATE_DIR
from platform_model.stack import stack_names

LOCAL_ROLLOUT = REPO_ROOT / "rollouts" / "local.yaml"
"""The waves `autocloud up` deploys the local stacks in."""

Status = Literal["pending", "previewing", "updating", "done", "failed", "skipped"]
GateStatus = Literal["pending", "checking", "baking", "passed", "failed", "skipped"]
FINISHED: frozenset[str] = frozenset({"done"})

StackName = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]*$")]


class StackEntry(BaseModel):
    """One stack of a wave, with optional config overrides (e.g. a region's new fleet size)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    stack: StackName
    config: dict[str, ConfigValue] = Field(default_factory=dict)

    @field_validator("config")
    @classmethod
    def _namespaced(cls, value: dict[str, ConfigValue]) -> dict[str, ConfigValue]:
        for key in value:
            if ":" not in key:
                raise ValueError(f"config key {excerpt(key)} needs its namespace, e.g. autocloud:{key}")
        return value


class Wave(BaseModel):
    """A wave: its stacks (applied in parallel, up to `parallel`), then its optional `gate`, re-run
    for `bake` after it first passed; `canary` marks a first wave that must bake before any other."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    stacks: tuple[StackEntry, ...] = Field(min_length=1)
    parallel: int = Field(default=4, ge=1, le=16)
    gate: Gate | None = None
    bake: Duration | None = None
    canary: bool = False

    @property
    def bake_seconds(self) -> int:
        return duration_seconds(self.bake) if self.bake else 0

    @field_validator("stacks", mode="before")
    @classmethod
    def _plain_names(cls, value: Any) -> Any:
        """A wave may list bare stack names; they mean a stack with no overrides."""
        if isinstance(value, list):
            return [{"stack": v} if isinstance(v, str) else v for v in value]
        return value


class Rollout(BaseModel):
    """A rollout file: `name`, and ordered `waves` each listing its stacks."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: StackName
    waves: tuple[Wave, ...] = Field(min_length=1)
    backend: str | None = None
    """Optional state backend for every stack of the rollout (e.g. a team's azblob:// container);
    default the local file backend."""

    @model_validator(mode="after")
    def _unique(self) -> Rollout:
        seen: dict[str, str] = {}
        for w_index, wave in enumerate(self.waves):
            for s_index, entry in enumerate(wave.stacks):
                if entry.stack in seen:
                    where = f"waves[{w_index}].stacks[{s_index}]"
                    raise ValueError(
                        f"{where}: stack {excerpt(entry.stack)} is already in wave {excerpt(seen[entry.stack])}"
                    )
                seen[entry.stack] = wave.name
        for w_index, wave in enumerate(self.waves):
            if wave.bake and wave.gate is None:
                raise ValueError(f"waves[{w_index}].bake: a bake re-runs the wave's gate; add `gate:` to the wave")
            if wave.canary and w_index:
                raise ValueError(f"waves[{w_index}].canary: only the first wave can be the canary")
            if wave.canary and not wave.bake:
                raise ValueError(
                    f"waves[{w_index}].canary: a canary wave needs `gate:` and `bake:` (nothing after it starts "
                    "until it has baked)"
                )
        return self

    def entries(self) -> list[StackEntry]:
        return [entry for wave in self.waves for entry in wave.stacks]

    def restricted(self, stacks: list[str]) -> Rollout:
        """The same waves holding only `stacks` (empty waves dropped); stacks the file does not
        list run in a last wave of their own, so nothing asked for is silently left out."""
        wanted = set(stacks)
        waves = [
            wave.model_copy(update={"stacks": tuple(e for e in wave.stacks if e.stack in wanted)})
            for wave in self.waves
        ]
        kept = [w for w in waves if w.stacks]
        listed = {e.stack for w in kept for e in w.stacks}
        extra = tuple(StackEntry(stack=s) for s in stacks if s not in listed)
        if extra:
            kept.append(Wave(name="unlisted", stacks=extra))
        return self.model_copy(update={"waves": tuple(kept)})


def _key_path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "(top level)"


def load_rollout(path: Path, stacks_dir: Path = STACKS_DIR) -> Rollout:
    """Parse and check a rollout file; every problem is one ConfigError naming the file and key."""
    source = str(path)
    data = load_yaml(path, source)
    if not isinstance(data, dict):
        raise ConfigError(source, "(top level)", "must be a mapping with `name` and `waves`")
    try:
        rollout = Rollout.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        message = first["msg"].removeprefix("Value error, ")
        key = _key_path(first["loc"])
        if ": " in message and message.startswith("waves["):
            key, message = message.split(": ", 1)
        raise ConfigError(source, key, message) from None
    if rollout.backend is not None:
        try:
            validate_backend_url(rollout.backend)
        except ConfigError as exc:
            raise ConfigError(source, "backend", exc.message) from None
    known = set(stack_names(stacks_dir))
    for w_index, wave in enumerate(rollout.waves):
        for s_index, entry in enumerate(wave.stacks):
            if entry.stack not in known:
                raise ConfigError(
                    source,
                    f"waves[{w_index}].stacks[{s_index}]",
                    f"unknown stack {entry.stack!r} (no stacks/Pulumi.{entry.stack}.yaml)",
                )
    return rollout


@dataclass
class StackProgress:
    stack: str
    wave: str
    status: Status = "pending"
    changes: dict[str, int] = field(default_factory=dict)
    message: str = ""
    seconds: float = 0.0


@dataclass
class WaveGate:
    """The gate of one wave as it runs: its state, how often it ran, how long the wave has baked, and the
    checks of its last run (``message`` says which check failed and how)."""

    wave: str
    bake_seconds: int
    status: GateStatus = "pending"
    runs: int = 0
    baked: float = 0.0
    message: str = ""
    checks: list[Check] = field(default_factory=list)

    def summary(self) -> str:
        """The gate column of the progress table."""
        if self.status == "baking":
            return f"baking {self.baked:.0f}/{self.bake_seconds}s"
        if self.status == "passed" and self.bake_seconds and self.baked >= self.bake_seconds:
            return f"passed, baked {self.bake_seconds}s"
        return str(self.status)

    def to_json(self) -> dict[str, Any]:
        return {
            "wave": self.wave,
            "status": self.status,
            "runs": self.runs,
            "baked_seconds": round(self.baked, 1),
            "bake_seconds": self.bake_seconds,
            "message": self.message,
            "checks": [c.to_json() for c in self.checks],
        }


@dataclass
class RolloutRun:
    """The live state of one rollout: what the progress view shows and the state file records."""

    rollout: Rollout
    fingerprint: str
    progress: dict[str, StackProgress]
    gates: dict[int, WaveGate] = field(default_factory=dict)
    """By wave index: the gates of the waves that have one."""
    gate_only: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def ok(self) -> bool:
        applied = self.gate_only or all(p.status == "done" for p in self.progress.values())
        return applied and not any(g.status == "failed" for g in self.gates.values())

    def gate_of(self, wave: str) -> WaveGate | None:
        """The gate of the (first) wave called ``wave``, for the progress view."""
        for index, w in enumerate(self.rollout.waves):
            if w.name == wave:
                return self.gates.get(index)
        return None

    def to_json(self) -> dict[str, Any]:
        entries = {e.stack: entry_fingerprint(e) for e in self.rollout.entries()}
        return {
            "rollout": self.rollout.name,
            "fingerprint": self.fingerprint,
            "ok": self.ok,
            "stacks": [
                {
                    "stack": p.stack,
                    "wave": p.wave,
                    "entry": entries[p.stack],
                    "status": p.status,
                    "changes": p.changes,
                    "message": p.message,
                    "seconds": round(p.seconds, 2),
                }
                for p in self.progress.values()
            ],
            "gates": [{"index": index, **gate.to_json()} for index, gate in sorted(self.gates.items())],
        }


class Runner(Protocol):
    """Runs one stack as `deploy.deploy_stack` does (a bound form of it in the CLI): preview, then
    with ``apply`` update, telling ``on_previewed`` when the preview passed. Injected so unit tests
    can record calls instead of running the engine."""

    def __call__(
        self,
        stack: str,
        overrides: Mapping[str, ConfigValue],
        *,
        apply: bool,
        on_previewed: Callable[[StackResult], None],
    ) -> StackResult: ...


class GateChecker(Protocol):
    """Runs a wave's gate on one of its stacks (:class:`autocloud.operations.gates.StackGate` for real):
    ``outputs`` are the stack's outputs when this run applied it, else None (the checker reads them)."""

    def __call__(
        self, stack: str, overrides: Mapping[str, ConfigValue], gate: Gate, outputs: Mapping[str, Any] | None
    ) -> list[Check]: ...


def state_file(rollout: Rollout, state_dir: Path = STATE_DIR) -> Path:
    return state_dir / "rollouts" / f"{rollout.name}.json"


def fingerprint(rollout: Rollout) -> str:
    return hashlib.sha256(rollout.model_dump_json().encode()).hexdigest()[:16]


def entry_fingerprint(entry: StackEntry) -> str:
    """What a finished stack was run with; resume skips it only if that is unchanged."""
    return hashlib.sha256(entry.model_dump_json().encode()).hexdigest()[:16]


def _save(run: RolloutRun, path: Path) -> None:
    write_atomically(path, json.dumps(run.to_json(), indent=2) + "\n")


def _saved(path: Path) -> dict[str, Any]:
    """A previous run's record, or an empty one when it is missing or damaged."""
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return saved if isinstance(saved, dict) else {}


def _resumed(rollout: Rollout, saved: Mapping[str, Any]) -> set[str]:
    """Stacks a previous run finished with the same stack entry (name and config overrides), so a
    fixed override of the failed stack resumes, while a changed finished stack runs again."""
    if not isinstance(saved.get("stacks"), list):
        return set()
    current = {e.stack: entry_fingerprint(e) for e in rollout.entries()}
    return {
        s["stack"]
        for s in saved["stacks"]
        if isinstance(s, dict)
        and isinstance(s.get("stack"), str)
        and s.get("status") in FINISHED
        and s["stack"] in current
        and current[s["stack"]] == s.get("entry")
    }


def _baked_waves(rollout: Rollout, saved: Mapping[str, Any]) -> set[int]:
    """Waves whose gate passed (and baked) in the previous run, by index, their name unchanged."""
    gates = saved.get("gates")
    if not isinstance(gates, list):
        return set()
    return {
        g["index"]
        for g in gates
        if isinstance(g, dict)
        and isinstance(g.get("index"), int)
        and 0 <= g["index"] < len(rollout.waves)
        and rollout.waves[g["index"]].name == g.get("wave")
        and g.get("status") == "passed"
    }


def run_rollout(
    rollout: Rollout,
    runner: Runner,
    preview_only: bool = False,
    resume: bool = False,
    state_dir: Path = STATE_DIR,
    on_change: Callable[[RolloutRun, StackProgress], None] | None = None,
    *,
    checker: GateChecker | None = None,
    gates: bool = True,
    gate_only: bool = False,
    on_gate: Callable[[RolloutRun, WaveGate], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> RolloutRun:
    """Walk the waves, one `runner` call per stack: it previews with the packs and, unless
    `preview_only`, applies what passed. After a wave is applied its gate runs (`checker` on each of
    its stacks), then again every `bake_interval` until the wave has baked; a failed gate halts the
    rollout before the next wave. `--resume` re-checks the gate of the last wave applied before it
    goes on (and bakes it again if it had not finished baking).

    `gates=False` applies without running gates; `gate_only` applies nothing and runs each wave's gate
    once, against what is deployed (a CI job's gate step). `sleep` and `clock` time the bake."""
    path = state_file(rollout, state_dir)
    saved = _saved(path) if resume else {}
    finished = _resumed(rollout, saved)
    baked = _baked_waves(rollout, saved)
    check = checker or StackGate(state_dir, rollout.backend)
    saving = not preview_only and not gate_only
    run = RolloutRun(
        rollout,
        fingerprint(rollout),
        {e.stack: StackProgress(e.stack, w.name) for w in rollout.waves for e in w.stacks},
        {i: WaveGate(w.name, w.bake_seconds) for i, w in enumerate(rollout.waves) if w.gate is not None},
        gate_only,
    )
    for stack in finished:
        run.progress[stack].status = "done"
        run.progress[stack].message = "finished in an earlier run"
    outputs: dict[str, Mapping[str, Any]] = {}

    def update(progress: StackProgress, **changes: Any) -> None:
        with run.lock:
            for key, value in changes.items():
                setattr(progress, key, value)
            if saving:
                _save(run, path)
        if on_change:
            on_change(run, progress)

    def set_gate(gate: WaveGate, **changes: Any) -> None:
        with run.lock:
            for key, value in changes.items():
                setattr(gate, key, value)
            if saving:
                _save(run, path)
        if on_gate:
            on_gate(run, gate)

    stop = threading.Event()

    def one(entry: StackEntry) -> bool:
        progress = run.progress[entry.stack]
        if stop.is_set():
            update(progress, status="skipped", message="another stack of this wave failed")
            return False
        update(progress, status="previewing")
        result = runner(
            entry.stack,
            entry.config,
            apply=not preview_only,
            on_previewed=lambda preview: update(progress, status="updating", changes=preview.changes),
        )
        if not result.ok:
            stop.set()
        elif not preview_only:
            outputs[entry.stack] = result.outputs
        update(
            progress,
            status="done" if result.ok else "failed",
            changes=result.changes,
            message=result.message,
            seconds=result.seconds,
        )
        return result.ok

    def gate_wave(index: int, bake: bool) -> bool:
        """Run wave ``index``'s gate on each of its stacks; with ``bake``, again until it has baked."""
        wave, gate, spec = rollout.waves[index], run.gates[index], rollout.waves[index].gate
        assert spec is not None

        def once() -> list[Check]:
            checks = [c for e in wave.stacks for c in check(e.stack, e.config, spec, outputs.get(e.stack))]
            gate.runs += 1
            return checks

        def failed(checks: list[Check], when: str) -> bool:
            reasons = "; ".join(c.line() for c in checks if not c.ok)
            set_gate(gate, status="failed", checks=checks, message=f"{when}: {reasons}")
            return False

        set_gate(gate, status="checking", message="", baked=0.0)
        checks = once()
        if not all(c.ok for c in checks):
            return failed(checks, "gate failed")
        if not bake or not gate.bake_seconds:
            set_gate(gate, status="passed", checks=checks, message=f"{len(checks)} checks passed")
            return True
        set_gate(gate, status="baking", checks=checks)
        total, interval, started = gate.bake_seconds, bake_interval(gate.bake_seconds), clock()
        while (elapsed := clock() - started) < total:
            sleep(min(interval, total - elapsed))
            checks = once()
            so_far = min(clock() - started, total)
            if not all(c.ok for c in checks):
                gate.baked = so_far
                return failed(checks, f"gate failed after {so_far:.0f}s of the {wave.bake} bake")
            set_gate(gate, status="baking", checks=checks, baked=so_far)
        set_gate(
            gate,
            status="passed",
            checks=checks,
            baked=float(total),
            message=f"baked {wave.bake}, {gate.runs} runs passed",
        )
        return True

    first_todo = next(
        (i for i, w in enumerate(rollout.waves) if any(e.stack not in finished for e in w.stacks)), len(rollout.waves)
    )
    halted = ""
    for index, wave in enumerate(rollout.waves):
        gate = run.gates.get(index)
        todo = [e for e in wave.stacks if e.stack not in finished]
        if halted or stop.is_set():
            why = halted or "an earlier wave failed"
            for entry in todo:
                update(run.progress[entry.stack], status="skipped", message=why)
            if gate:
                set_gate(gate, status="skipped", message=why)
            continue
        if gate_only:
            for entry in wave.stacks:
                update(run.progress[entry.stack], status="skipped", message="not applied (--gate-only)")
        elif todo:
            with ThreadPoolExecutor(max_workers=wave.parallel) as pool:
                list(pool.map(one, todo))
        if gate is None:
            continue
        if stop.is_set():
            set_gate(gate, status="skipped", message="a stack of this wave failed")
        elif preview_only or not gates:
            set_gate(gate, status="skipped", message="preview only" if preview_only else "--no-gates")
        elif gate_only or todo or index == first_todo - 1:
            # Applied now (bake it), checked alone (once), or the last wave applied before a resume:
            # re-checked before going on, and baked again unless it had baked in full.
            bake = not gate_only and (bool(todo) or index not in baked)
            if not gate_wave(index, bake):
                halted = f"the gate of wave {wave.name!r} failed"
        else:
            set_gate(gate, status="passed", message="passed in an earlier run")
    return run
