"""`autocloud rollout FILE --emit github`: the same rollout as a GitHub Actions workflow, so CI runners
carry a world rollout with the local runner's semantics.

One job per stack, in a protected environment per wave (a person approves each wave); a wave's jobs
need every job of the wave before. A job applies its stack with `autocloud rollout FILE --only-stack S
--no-gates`, runs its wave's gate once with `--gate-only`, then bakes: the gate again every
`gates.bake_interval` until the bake is over. The gate's checks are read from the rollout file at run
time, never copied into the workflow, so the file stays their one home.

Only Azure stacks: a local stack lives on this machine's embedded cluster, which a runner does not keep
from one job to the next.
"""

from __future__ import annotations

import importlib.metadata
import math
import re
from dataclasses import dataclass
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template

from autocloud.operations.gates import bake_interval
from autocloud.operations.rollout import Rollout
from platform_model.errors import ConfigError, InputError, excerpt
from platform_model.paths import REPO_ROOT
from platform_model.stack import resolve_stack

TEMPLATES = Path(__file__).parent / "templates"

PINS = {
    "checkout": "fbc6f3992d24b796d5a048ff273f7fcc4a7b6c09 # v5.1.0",
    "setup_python": "ece7cb06caefa5fff74198d8649806c4678c61a1 # v6.3.0",
    "setup_go": "924ae3a1cded613372ab5595356fb5720e22ba16 # v6.5.0",
    "azure_login": "7184910d9eb2b1c5e48f7073824a90609bb9b6d6 # v2.3.1",
}
"""The actions the emitted jobs use, pinned as .github/workflows/preview.yml pins them (a unit test
holds the two together)."""

JOB_LIMIT_MINUTES = 360
"""GitHub-hosted runners: "Each job in a workflow can run for up to 6 hours of execution time"
(https://docs.github.com/actions/learn-github-actions/usage-limits-billing-and-administration)."""
APPLY_MINUTES = 150
"""What a job keeps for building the toolchain and applying its stack before any bake: a first apply of
new IoT Hubs waits `autocloud:rolePropagationSeconds` (10 minutes) between its two applies, and AKS and
Cosmos DB take tens of minutes to create."""
BAKE_SLACK = 1.5
"""The bake's share of a job's time, with room for the gate's own runs (a simulation takes a while)."""

_SLUG = re.compile(r"[^a-z0-9]+")
_SAFE_PATH = re.compile(r"^[A-Za-z0-9._/-]+$")
_CLOUDS = {
    "public": ("AzureCloud", "", "PULUMI_BACKEND_URL"),
    "china": ("AzureChinaCloud", "CN_", "PULUMI_BACKEND_URL_CN"),
}
"""A region's cloud -> (azure/login environment, prefix of its identity's variables, its state variable),
as the pull-request preview names them."""


def slug(text: str) -> str:
    """A wave name as it may appear in names GitHub reads (lower-case letters, digits, hyphens)."""
    return _SLUG.sub("-", text.lower()).strip("-") or "wave"


@dataclass(frozen=True)
class _Wave:
    slug: str
    environment: str
    stacks: list[str]
    needs: list[str]
    gate: bool
    bake: str
    bake_seconds: int
    interval: int
    timeout_minutes: int


@dataclass(frozen=True)
class _Job:
    id: str
    stack: str
    wave: _Wave
    prefix: str
    state: str
    azure_environment: str


def _relative(file: Path) -> str:
    try:
        relative = file.resolve().relative_to(REPO_ROOT).as_posix()
    except ValueError:
        raise InputError(
            f"--emit github: {file} must be inside the repository, which the workflow checks out"
        ) from None
    if not _SAFE_PATH.match(relative):
        raise InputError(f"--emit github: {excerpt(relative)}: name the rollout file with letters, digits, . _ / -")
    return relative


def workflow(rollout: Rollout, file: Path, only: list[str] | None = None) -> str:
    """The workflow text for ``rollout`` (read from ``file``, restricted to ``only`` if given)."""
    source = _relative(file)
    waves: list[_Wave] = []
    jobs: list[_Job] = []
    needs: list[str] = []
    for w_index, wave in enumerate(rollout.waves):
        timeout = APPLY_MINUTES + math.ceil(wave.bake_seconds * BAKE_SLACK / 60)
        if timeout > JOB_LIMIT_MINUTES:
            raise ConfigError(
                str(file),
                f"waves[{w_index}].bake",
                f"{wave.bake} leaves a job no room to apply within GitHub's {JOB_LIMIT_MINUTES // 60}-hour job limit",
            )
        name = slug(wave.name)
        emitted = _Wave(
            slug=name,
            environment=f"rollout-{rollout.name}-{name}",
            stacks=[e.stack for e in wave.stacks],
            needs=list(needs),
            gate=wave.gate is not None,
            bake=wave.bake or "",
            bake_seconds=wave.bake_seconds,
            interval=max(1, math.floor(bake_interval(wave.bake_seconds))) if wave.bake_seconds else 0,
            timeout_minutes=timeout,
        )
        waves.append(emitted)
        for s_index, entry in enumerate(wave.stacks):
            resolved = resolve_stack(entry.stack, overrides=entry.config)
            if resolved.config.is_local:
                raise ConfigError(
                    str(file),
                    f"waves[{w_index}].stacks[{s_index}]",
                    f"{entry.stack} deploys to the local cluster of this machine; a GitHub workflow carries Azure "
                    "stacks only (use --only-stack to leave it out)",
                )
            azure_environment, prefix, state = _CLOUDS[resolved.profile.cloud]
            jobs.append(_Job(f"deploy-{entry.stack}", entry.stack, emitted, prefix, state, azure_environment))
        needs = [job.id for job in jobs if job.wave is emitted]
    return _template().render(
        name=rollout.name,
        rollout_file=source,
        only_args="".join(f" --only-stack {stack}" for stack in only or []),
        waves=waves,
        jobs=jobs,
        pins=PINS,
        azure_native=importlib.metadata.version("pulumi-azure-native"),
    )


def _template() -> Template:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=False,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    return env.get_template("rollout-workflow.yml.j2")
