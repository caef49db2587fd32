"""`autocloud check`: run each target's program under mocks and judge it with every pack.

Offline and credential-free, for CI and pull requests; it runs the program's code. Each stack (or
program) runs in its own `autocloud.verification.check.runner` subprocess, in the program's own
environment when it declares dependencies (`program_env`), with config taken as the Pulumi CLI takes
it (`targets`); the recorded resources, even those of a program that failed part-way, are then judged
by the same rule objects the policy packs serve, with the region's RuleContext. One result model
(`Outcome`) feeds every format. Exit 0 when clean (advisory findings allowed), 1 on any mandatory
violation, 2 on a usage or configuration error or a program that could not be checked completely.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal, TextIO, get_args

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from autocloud.verification.check.program_env import EnvError, ensure_env, runner_env
from autocloud.verification.check.targets import CheckError, ConfigInput, Target, resolve_targets
from autocloud.verification.common import all_packs, map_targets, templates
from platform_model.errors import EXIT_BAD_INPUT, AutocloudError, ConfigError
from platform_model.formats import OutputFormat
from platform_model.paths import REPO_ROOT, user_cache_dir
from platform_model.profiles import display_path
from policies.engine import Evaluator
from policies.model import ProviderView, ResourceView, Violation, ViolationCounts, canonical_type

RUN_TIMEOUT_S = 600


class IncompleteCheck(AutocloudError):
    """A program could not be checked completely (what it registered was judged and printed): exit 2,
    as for bad input, since the verdict is not known."""

    exit_code: ClassVar[int] = EXIT_BAD_INPUT


Status = Literal["clean", "violations", "incomplete", "error"]
"""A target's verdict: no mandatory finding; mandatory findings; the program failed part-way (what
it registered was judged, the rest was not seen); the program could not be run at all."""


@dataclass
class Outcome(ViolationCounts):
    """One target's result: the model every format (text, JSON, Markdown) renders."""

    target: Target
    resources: int = 0
    violations: list[Violation] = field(default_factory=list)
    error: str | None = None

    @property
    def status(self) -> Status:
        if self.error is not None:
            return "incomplete" if self.resources else "error"
        return "violations" if self.mandatory else "clean"

    def as_dict(self, root: Path) -> dict[str, Any]:
        return {
            "label": self.target.label,
            "program": display_path(self.target.program, root),
            "stack": self.target.stack,
            "region": self.target.ctx.region,
            "status": self.status,
            "resources": self.resources,
            "mandatory": self.mandatory,
            "advisory": self.advisory,
            "violations": [v.as_dict() for v in self.violations],
            "error": self.error,
        }


def exit_code(outcomes: Sequence[Outcome]) -> int:
    """2 when any target could not be checked completely, else 1 on a mandatory finding, else 0."""
    if any(o.status in ("incomplete", "error") for o in outcomes):
        return 2
    return 1 if any(o.mandatory for o in outcomes) else 0


# --- running programs ----------------------------------------------------------------------------


def pulumi_config_env(values: Mapping[str, Any]) -> tuple[str, str]:
    """PULUMI_CONFIG and PULUMI_CONFIG_SECRET_KEYS for `values`: strings as they are, structured
    values as JSON (what `pulumi.Config.get_object` parses); secure values become placeholders."""
    config: dict[str, str] = {}
    secrets: list[str] = []
    for key, value in values.items():
        if isinstance(value, Mapping) and set(value) == {"secure"}:
            config[key] = "mock-secret"
            secrets.append(key)
        elif isinstance(value, str):
            config[key] = value
        else:
            config[key] = json.dumps(value)
    return json.dumps(config), json.dumps(secrets)


def _normal_urn(urn: str) -> str:
    """The mock monitor puts the root stack in every type chain; the engine does not."""
    return urn.replace("::pulumi:pulumi:Stack$", "::")


def views_from_records(
    records: Sequence[Mapping[str, Any]], target: Target, located: Iterable[str] | None = None
) -> list[ResourceView]:
    """Recorded registrations as ResourceViews, each with its provider. Resources without an explicit
    provider get the package's default provider, built from the stack's `<package>:*` config as the
    engine builds it, and listed as resources themselves (the engine's policies see those too).
    `located` names the types whose SDK class takes a `location` (None: not known)."""
    located_types = frozenset(located) if located is not None else None
    providers: dict[str, ProviderView] = {}
    for record in records:
        if record["type"].startswith("pulumi:providers:"):
            urn = _normal_urn(record["urn"])
            providers[urn] = ProviderView(record["type"], record["name"], urn, record["inputs"])
    defaults: dict[str, ProviderView] = {}

    def default_provider(package: str) -> ProviderView:
        if package not in defaults:
            props = {
                key.split(":", 1)[1]: value for key, value in target.config.items() if key.startswith(f"{package}:")
            }
            type_ = f"pulumi:providers:{package}"
            urn = f"urn:pulumi:{target.stack}::{target.project}::{type_}::default"
            defaults[package] = ProviderView(type_, "default", urn, props)
        return defaults[package]

    views: list[ResourceView] = []
    for record in records:
        type_ = record["type"]
        provider: ProviderView | None = None
        if record["custom"] and not type_.startswith("pulumi:providers:"):
            explicit = record.get("provider")
            provider = providers.get(_normal_urn(explicit)) if explicit else None
            if provider is None:
                provider = default_provider(type_.split(":", 1)[0])
        located_ = None if located_types is None else type_ in located_types
        urn = _normal_urn(record["urn"])
        views.append(ResourceView(canonical_type(type_), record["name"], urn, record["inputs"], provider, located_))
    views.extend(ResourceView(p.type, p.name, p.urn, p.props) for p in defaults.values())
    return views


@dataclass(frozen=True)
class Recording:
    """What a program registered, which of those types take a location, and why it stopped early
    (None when it ran to the end)."""

    records: list[dict[str, Any]]
    located: frozenset[str]
    error: str | None = None


def record(target: Target) -> Recording:
    """Run the target's program in a fresh interpreter, as `pulumi preview` would, and return its
    registrations; CheckError when it produced nothing at all (could not start, timed out)."""
    config_json, secret_keys = pulumi_config_env(target.config)
    try:
        python = ensure_env(target.program, user_cache_dir())
    except (EnvError, ConfigError) as error:
        raise CheckError(f"the program's dependencies: {error}") from None
    env = os.environ | runner_env(python)
    env |= {"PULUMI_CONFIG": config_json, "PULUMI_CONFIG_SECRET_KEYS": secret_keys}
    with tempfile.TemporaryDirectory(prefix="autocloud-check-") as scratch:
        out = Path(scratch) / "resources.json"
        command = [
            str(python or sys.executable), "-m", "autocloud.verification.check.runner",
            "--program", str(target.program), "--project", target.project,
            "--stack", target.stack, "--out", str(out),
        ]  # fmt: skip
        try:
            finished = subprocess.run(
                command, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_S, check=False
            )
        except subprocess.TimeoutExpired:
            raise CheckError(f"the program did not finish within {RUN_TIMEOUT_S}s") from None
        if not out.is_file():
            tail = (finished.stderr.strip().splitlines() or [f"exit code {finished.returncode}"])[-1]
            raise CheckError(f"the program could not run: {tail}")
        result = json.loads(out.read_text(encoding="utf-8"))
    failure = result.get("error")
    return Recording(
        result["resources"], frozenset(result.get("located", ())), f"the program failed: {failure}" if failure else None
    )


def evaluate(target: Target, evaluator: Evaluator) -> Outcome:
    """Judge what the program registered, even when it failed half-way (the outcome then carries
    the error and counts as incomplete)."""
    try:
        recording = record(target)
    except CheckError as error:
        return Outcome(target, error=str(error))
    views = views_from_records(recording.records, target, recording.located)
    evaluation = evaluator.run(views, target.ctx, stack=target.label)
    return Outcome(target, resources=len(views), violations=evaluation.violations, error=recording.error)


def check_targets(targets: Sequence[Target]) -> list[Outcome]:
    """Run every target (in parallel: each is its own process) and judge it with all packs."""
    evaluator = all_packs()
    return map_targets(lambda t: evaluate(t, evaluator), targets)


# --- output --------------------------------------------------------------------------------------


_TEXT_STATE: Mapping[Status, str] = {
    "clean": "[green]ok[/green]",
    "violations": "[red]FAIL[/red]",
    "incomplete": "[red]INCOMPLETE[/red]",
    "error": "[red]ERROR[/red]",
}


def render_text(outcomes: Sequence[Outcome], out: TextIO) -> None:
    # A terminal gets its own width; a file or CI log gets lines long enough not to split policy names.
    console = Console(file=out, width=None if out.isatty() else 200, highlight=False)
    violations = [v for o in outcomes for v in o.violations]
    if violations:
        table = Table(title="policy violations")
        for column in ("stack", "level", "policy"):
            table.add_column(column, no_wrap=True)
        table.add_column("resource", overflow="fold")
        table.add_column("problem", overflow="fold", ratio=1)
        for v in violations:
            level = "[red]mandatory[/red]" if v.enforcement == "mandatory" else "[yellow]advisory[/yellow]"
            resource = f"{escape(v.resource)}\n[dim]{escape(v.type)}[/dim]"
            table.add_row(escape(v.stack), level, v.policy, resource, escape(v.detail))
        console.print(table)
    for o in outcomes:
        state = _TEXT_STATE[o.status]
        counts = f"{o.resources} resources, {o.mandatory} mandatory, {o.advisory} advisory"
        if o.status == "error":
            console.print(
                f"{state} {escape(o.target.label)} (region {o.target.ctx.region}): could not check: "
                f"{escape(o.error or '')}"
            )
        elif o.status == "incomplete":
            console.print(
                f"{state} {escape(o.target.label)} (region {o.target.ctx.region}): {counts} judged "
                f"before the program stopped: {escape(o.error or '')}"
            )
        else:
            console.print(f"{state} {escape(o.target.label)} (region {o.target.ctx.region}): {counts}")


def summary(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    statuses = [o.status for o in outcomes]
    return {
        "targets": len(outcomes),
        **{status: statuses.count(status) for status in get_args(Status)},
        "mandatory": sum(o.mandatory for o in outcomes),
        "advisory": sum(o.advisory for o in outcomes),
        "exit_code": exit_code(outcomes),
    }


def render_json(outcomes: Sequence[Outcome], root: Path = REPO_ROOT) -> str:
    document = {"targets": [o.as_dict(root) for o in outcomes], "summary": summary(outcomes)}
    return json.dumps(document, indent=2) + "\n"


def render_markdown(outcomes: Sequence[Outcome]) -> str:
    return (
        templates()
        .get_template("check.md.j2")
        .render(
            outcomes=outcomes,
            violations=[v for o in outcomes for v in o.violations],
            summary=summary(outcomes),
        )
    )


# --- entry point ---------------------------------------------------------------------------------


def run_check(
    stacks: list[str] | None,
    all_stacks: bool,
    program_dir: Path | None,
    region: str | None,
    fmt: OutputFormat,
    *,
    root: Path | None = None,
    given: ConfigInput | None = None,
    out: TextIO | None = None,
) -> int:
    """`autocloud check`: 0 clean, 1 on a mandatory violation; CheckError or ConfigError (exit 2) on a
    usage or configuration error before anything ran, IncompleteCheck (exit 2) after the results are
    written when a program could not be checked completely.

    `stacks` run the repository program (or `program_dir`) with `stacks/Pulumi.<stack>.yaml`;
    `all_stacks` runs every stack file; `program_dir` alone needs `region`. `region` overrides the
    stack's region profile. `given` adds `-c KEY=VALUE` pairs and a `--config-file` over the stack's
    config. Results go to `out` (stdout) in `fmt` (text, json or markdown).
    """
    out = out or sys.stdout
    base = (root or REPO_ROOT).resolve()
    try:
        targets = resolve_targets(stacks, all_stacks, program_dir, region, base, given)
    except ValueError as error:
        raise CheckError(str(error)) from None
    outcomes = check_targets(targets)
    if fmt == OutputFormat.JSON:
        out.write(render_json(outcomes, base))
    elif fmt == OutputFormat.MARKDOWN:
        out.write(render_markdown(outcomes))
    else:
        render_text(outcomes, out)
    unchecked = [f"{o.target.label}: {o.error}" for o in outcomes if o.error is not None]
    if unchecked:
        raise IncompleteCheck("; ".join(unchecked))
    return exit_code(outcomes)
