"""`autocloud check`: run a Pulumi program as `pulumi preview` would, under mocks, and evaluate every pack.

Offline and credential-free, for CI and pull requests; it runs the program's code. Each stack (or
program) runs in its own `autocloud.verification.check_runner` subprocess, in the program's own environment when
it declares dependencies (`autocloud.verification.program_env`), with config taken as the Pulumi CLI takes it;
the recorded resources, even those of a program that failed part-way, are then judged by the same
rule objects the policy packs serve, with the region's RuleContext. One result model (`Outcome`)
feeds every format. Exit 0 when clean (advisory findings allowed), 1 on any mandatory violation, 2
on a usage or configuration error or a program that could not be checked completely.
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
from typing import Any, Literal, TextIO, get_args

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from autocloud.verification.common import all_packs, map_targets, templates
from autocloud.verification.program_env import EnvError, ensure_env, runner_env
from platform_model.errors import ConfigError, InputError, excerpt
from platform_model.inputs import load_mapping
from platform_model.paths import REPO_ROOT, user_cache_dir
from platform_model.profiles import (
    RELAX_KEY,
    available_profiles,
    display_path,
    load_profile,
    stack_config_from_values,
    stack_path,
)
from platform_model.stack import resolve_values
from policies.config import context_for_profile
from policies.engine import Evaluator
from policies.model import ProviderView, ResourceView, RuleContext, Violation, ViolationCounts, canonical_type

Format = Literal["text", "json", "markdown"]
FORMATS: tuple[Format, ...] = get_args(Format)

RUN_TIMEOUT_S = 600


class CheckError(InputError):
    """A usage or configuration problem: one line, exit code 2."""


@dataclass(frozen=True)
class Target:
    """One program run: which program, under which stack name and config, judged for which region."""

    label: str
    program: Path
    project: str
    stack: str
    config: Mapping[str, Any]
    ctx: RuleContext


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


# --- stack config --------------------------------------------------------------------------------


def _read_yaml(path: Path, root: Path) -> Mapping[str, Any]:
    return load_mapping(path, display_path(path, root))


def _project(program: Path, root: Path) -> tuple[str, Mapping[str, Any], Path]:
    """Project name, config declarations and stack-file folder: the program's own Pulumi.yaml,
    else the repository's."""
    for directory in (program, root):
        path = directory / "Pulumi.yaml"
        if path.is_file():
            data = _read_yaml(path, root)
            folder = directory / str(data.get("stackConfigDir") or ".")
            return str(data.get("name", "autocloud")), data.get("config") or {}, folder
    return "autocloud", {}, program


def _full_key(key: str, project: str) -> str:
    """`key` under the project's namespace unless it names its own (`azure-native:location`), as
    the Pulumi CLI reads bare keys."""
    return key if ":" in key else f"{project}:{key}"


def _config_values(project: str, declared: Mapping[str, Any], *layers: Mapping[str, Any]) -> dict[str, Any]:
    """Project defaults overlaid with each layer of values in turn (stack file, --config-file,
    -c pairs), under full `namespace:key` names, as the CLI merges them."""
    values: dict[str, Any] = {}
    for key, spec in declared.items():
        if isinstance(spec, Mapping):
            for attribute in ("value", "default"):
                if attribute in spec:
                    values[_full_key(key, project)] = spec[attribute]
                    break
        elif spec is not None:
            values[_full_key(key, project)] = spec
    for layer in layers:
        for key, value in layer.items():
            values[_full_key(str(key), project)] = value
    return values


def _stack_file_config(path: Path, root: Path) -> Mapping[str, Any]:
    """The `config:` mapping of a Pulumi stack file (ConfigError naming the file otherwise)."""
    config = _read_yaml(path, root).get("config") or {}
    if not isinstance(config, Mapping):
        raise ConfigError(display_path(path, root), "config", "expected a mapping of config keys")
    return config


def parse_config_pairs(pairs: Sequence[str]) -> dict[str, str]:
    """`-c KEY=VALUE` flags as the Pulumi CLI takes them: values are strings, the last one wins."""
    values: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise CheckError(f"--config {pair!r}: expected KEY=VALUE")
        values[key.strip()] = value
    return values


@dataclass(frozen=True)
class ConfigInput:
    """Config given on the command line: `-c KEY=VALUE` pairs and a `--config-file` stack file."""

    pairs: Sequence[str] = ()
    file: Path | None = None

    def layers(self, root: Path) -> list[Mapping[str, Any]]:
        file_values = _stack_file_config(self.file.resolve(), root) if self.file is not None else {}
        return [file_values, parse_config_pairs(self.pairs)]


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


def _stack_target(
    stack: str, program: Path, region: str | None, root: Path, regions: Iterable[str], given: ConfigInput
) -> Target:
    """A stack of the program: its own `Pulumi.<stack>.yaml` (next to its Pulumi.yaml or in its
    stackConfigDir) judged for `--region`, else the repository's `stacks/Pulumi.<stack>.yaml`,
    whose `autocloud:region` names the region unless `--region` overrides it."""
    project, declared, folder = _project(program, root)
    own = folder / f"Pulumi.{stack}.yaml"
    if program != root and (program / "Pulumi.yaml").is_file() and own.is_file():
        if region is None:
            raise CheckError(f"--stack {stack}: {display_path(own, root)} is the program's own; give --region too")
        values = _config_values(project, declared, _stack_file_config(own, root), *given.layers(root))
        ctx = context_for_profile(load_profile(region, root), regions=regions)
        return Target(f"{display_path(program, root)}:{stack}", program, project, stack, values, ctx)
    path = stack_path(stack, root)
    label = display_path(path, root)
    values = _config_values(project, declared, _stack_file_config(path, root), *given.layers(root))
    if region is None:
        resolved = resolve_values(stack, values, label, root=root)
        config, profile = resolved.config, resolved.profile
    else:
        config, profile = stack_config_from_values(values, label), load_profile(region, root)
    try:
        ctx = context_for_profile(profile, relaxed=config.policy_relax, regions=regions, source=f"{label}: {RELAX_KEY}")
    except ValueError as error:
        raise CheckError(str(error)) from None
    return Target(stack, program, project, stack, values, ctx)


def resolve_targets(
    stacks: Sequence[str] | None,
    all_stacks: bool,
    program_dir: Path | None,
    region: str | None,
    root: Path,
    given: ConfigInput | None = None,
) -> list[Target]:
    """What to run, from the command's options; CheckError/ConfigError on bad usage."""
    given = given or ConfigInput()
    if all_stacks and stacks:
        raise CheckError("use either --stack or --all, not both")
    if program_dir is not None:
        program = program_dir.resolve()
        if not (program / "__main__.py").is_file():
            raise CheckError(f"--program {program_dir}: no __main__.py there")
    else:
        program = root
    regions = available_profiles(root)
    if all_stacks:
        names = sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in (root / "stacks").glob("Pulumi.*.yaml"))
        if not names:
            raise CheckError(f"--all: no stacks under {display_path(root / 'stacks', root)}")
        return [_stack_target(name, program, region, root, regions, given) for name in names]
    if stacks:
        return [_stack_target(name, program, region, root, regions, given) for name in stacks]
    if program_dir is None:
        raise CheckError("nothing to check: give --stack STACK, --all or --program DIR")
    if region is None:
        raise CheckError("--program without --stack needs --region (the boundary to check against)")
    project, declared, _ = _project(program, root)
    ctx = context_for_profile(load_profile(region, root), regions=regions)
    label = display_path(program, root)
    return [Target(label, program, project, "check", _config_values(project, declared, *given.layers(root)), ctx)]


# --- running programs ----------------------------------------------------------------------------


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
            str(python or sys.executable), "-m", "autocloud.verification.check_runner",
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
    fmt: str,
    *,
    root: Path | None = None,
    given: ConfigInput | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """`autocloud check`: 0 clean, 1 on a mandatory violation, 2 on a usage/config error or a
    program that could not be checked completely.

    `stacks` run the repository program (or `program_dir`) with `stacks/Pulumi.<stack>.yaml`;
    `all_stacks` runs every stack file; `program_dir` alone needs `region`. `region` overrides the
    stack's region profile. `given` adds `-c KEY=VALUE` pairs and a `--config-file` over the stack's
    config. Results go to `out` (stdout), one-line errors to `err` (stderr).
    """
    out = out or sys.stdout
    err = err or sys.stderr
    base = (root or REPO_ROOT).resolve()
    try:
        if fmt not in FORMATS:
            raise CheckError(f"--format {excerpt(fmt)}: choose one of {', '.join(FORMATS)}")
        targets = resolve_targets(stacks, all_stacks, program_dir, region, base, given)
    except (CheckError, ConfigError, ValueError) as error:
        print(f"error: {error}", file=err)
        return 2
    outcomes = check_targets(targets)
    if fmt == "json":
        out.write(render_json(outcomes, base))
    elif fmt == "markdown":
        out.write(render_markdown(outcomes))
    else:
        render_text(outcomes, out)
    if fmt != "text":
        for outcome in outcomes:
            if outcome.error is not None:
                print(f"error: {outcome.target.label}: {outcome.error}", file=err)
    return exit_code(outcomes)
