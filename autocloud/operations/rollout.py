"""Region rollouts: waves of stacks from a file, each stack previewed with the policy packs and then
applied (or only previewed) through the one deploy seam, `deploy.deploy_stack`.

A wave runs its stacks in parallel (up to its `parallel`); the first failure lets the wave's running
stacks finish, marks the rest skipped and starts no later wave. Progress is saved after every stack
in `.state/rollouts/<name>.json`, so `--resume` carries on with what had not finished.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from autocloud.operations.deploy import ConfigValue, StackResult
from autocloud.operations.gates import Duration, Gate, duration_seconds
from autocloud.runtime.backend import validate_backend_url
from platform_model.errors import ConfigError, excerpt
from platform_model.files import write_atomically
from platform_model.inputs import load_yaml
from platform_model.paths import REPO_ROOT, STACKS_DIR, STATE_DIR
from platform_model.stack import stack_names

LOCAL_ROLLOUT = REPO_ROOT / "rollouts" / "local.yaml"
"""The waves `autocloud up` deploys the local stacks in."""

Status = Literal["pending", "previewing", "updating", "done", "failed", "skipped"]
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
class RolloutRun:
    """The live state of one rollout: what the progress view shows and the state file records."""

    rollout: Rollout
    fingerprint: str
    progress: dict[str, StackProgress]
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def ok(self) -> bool:
        return all(p.status == "done" for p in self.progress.values())

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


def state_file(rollout: Rollout, state_dir: Path = STATE_DIR) -> Path:
    return state_dir / "rollouts" / f"{rollout.name}.json"


def fingerprint(rollout: Rollout) -> str:
    return hashlib.sha256(rollout.model_dump_json().encode()).hexdigest()[:16]


def entry_fingerprint(entry: StackEntry) -> str:
    """What a finished stack was run with; resume skips it only if that is unchanged."""
    return hashlib.sha256(entry.model_dump_json().encode()).hexdigest()[:16]


def _save(run: RolloutRun, path: Path) -> None:
    write_atomically(path, json.dumps(run.to_json(), indent=2) + "\n")


def _resumed(rollout: Rollout, path: Path) -> set[str]:
    """Stacks a previous run finished with the same stack entry (name and config overrides), so a
    fixed override of the failed stack resumes, while a changed finished stack runs again."""
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return set()
    if not isinstance(saved, dict) or not isinstance(saved.get("stacks"), list):
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


def run_rollout(
    rollout: Rollout,
    runner: Runner,
    preview_only: bool = False,
    resume: bool = False,
    state_dir: Path = STATE_DIR,
    on_change: Callable[[RolloutRun, StackProgress], None] | None = None,
) -> RolloutRun:
    """Walk the waves, one `runner` call per stack: it previews with the packs and, unless
    `preview_only`, applies what passed."""
    path = state_file(rollout, state_dir)
    finished = _resumed(rollout, path) if resume else set()
    run = RolloutRun(
        rollout,
        fingerprint(rollout),
        {e.stack: StackProgress(e.stack, w.name) for w in rollout.waves for e in w.stacks},
    )
    for stack in finished:
        run.progress[stack].status = "done"
        run.progress[stack].message = "finished in an earlier run"

    def update(progress: StackProgress, **changes: Any) -> None:
        with run.lock:
            for key, value in changes.items():
                setattr(progress, key, value)
            if not preview_only:
                _save(run, path)
        if on_change:
            on_change(run, progress)

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
        update(
            progress,
            status="done" if result.ok else "failed",
            changes=result.changes,
            message=result.message,
            seconds=result.seconds,
        )
        return result.ok

    for wave in rollout.waves:
        todo = [e for e in wave.stacks if e.stack not in finished]
        if stop.is_set():
            for entry in todo:
                update(run.progress[entry.stack], status="skipped", message="an earlier wave failed")
            continue
        with ThreadPoolExecutor(max_workers=wave.parallel) as pool:
            list(pool.map(one, todo))
    return run
