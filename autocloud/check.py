"""`autocloud check`: run a Pulumi program under mocks with a stack's config and evaluate every pack.

Offline and credential-free, for CI and pull requests. Each stack (or program) runs in its own
`autocloud.check_runner` subprocess; the recorded resources are then judged by the same rule
objects the policy packs serve, with the region's RuleContext. Exit 0 when clean (advisory findings
allowed), 1 on any mandatory violation, 2 on a usage or configuration error or a program that
could not run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TextIO, get_args

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from autocloud.errors import ConfigError, InputError, excerpt
from autocloud.inputs import load_yaml
from autocloud.profiles import (
    REPO_ROOT,
    available_profiles,
    display_path,
    load_profile,
    stack_config_from_values,
    stack_path,
)
from policies.config import RELAX_CONFIG_KEY, context_for_profile, relaxed_from_stack_config
from policies.engine import Evaluator
from policies.model import ProviderView, ResourceView, RuleContext, Violation, ViolationCounts, canonical_type
from policies.packs import ALL_RULES, PACK_RULES

Format = Literal["text", "json", "markdown"]
FORMATS: tuple[Format, ...] = get_args(Format)

RUN_TIMEOUT_S = 600
TEMPLATES = Path(__file__).resolve().parent / "templates"
_PACK_OF = {rule.name: pack for pack, rules in PACK_RULES.items() for rule in rules}


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


@dataclass
class Outcome(ViolationCounts):
    target: Target
    resources: int = 0
    violations: list[Violation] = field(default_factory=list)
    error: str | None = None



# --- stack config --------------------------------------------------------------------------------


def _read_yaml(path: Path, root: Path) -> Mapping[str, Any]:
    label = display_path(path, root)
    data = load_yaml(path, label) or {}
    if not isinstance(data, Mapping):
        raise ConfigError(label, "", "expected a mapping at the top level")
    return data


def _project(program: Path, root: Path) -> tuple[str, Mapping[str, Any]]:
    """Project name and config declarations: the program's own Pulumi.yaml, else the repository's."""
    for directory in (program, root):
        path = directory / "Pulumi.yaml"
        if path.is_file():
            data = _read_yaml(path, root)
            return str(data.get("name", "autocloud")), data.get("config") or {}
    return "autocloud", {}


def _full_key(key: str, project: str) -> str:
    return key if ":" in key else f"{project}:{key}"


def _config_values(project: str, declared: Mapping[str, Any], stack_config: Mapping[str, Any]) -> dict[str, Any]:
    """Project defaults overlaid with the stack's values, under full `namespace:key` names, as the
    CLI merges them."""
    values: dict[str, Any] = {}
    for key, spec in declared.items():
        if isinstance(spec, Mapping):
            for attribute in ("value", "default"):
                if attribute in spec:
                    values[_full_key(key, project)] = spec[attribute]
                    break
        elif spec is not None:
            values[_full_key(key, project)] = spec
    for key, value in stack_config.items():
        values[_full_key(str(key), project)] = value
    return values


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


def _stack_target(stack: str, program: Path, region: str | None, root: Path, regions: Iterable[str]) -> Target:
    path = stack_path(stack, root)
    label = display_path(path, root)
    stack_config = _read_yaml(path, root).get("config") or {}
    if not isinstance(stack_config, Mapping):
        raise ConfigError(label, "config", "expected a mapping of config keys")
    project, declared = _project(program, root)
    values = _config_values(project, declared, stack_config)
    settings = stack_config_from_values({k: v for k, v in values.items() if k != RELAX_CONFIG_KEY}, label)
    try:
        relaxed = relaxed_from_stack_config(values, f"{label}: {RELAX_CONFIG_KEY}")
    except ValueError as error:
        raise CheckError(str(error)) from None
    profile = load_profile(region or settings.region, root)
    ctx = context_for_profile(profile, relaxed=relaxed, regions=regions)
    return Target(stack, program, project, stack, values, ctx)


def resolve_targets(
    stacks: Sequence[str] | None, all_stacks: bool, program_dir: Path | None, region: str | None, root: Path
) -> list[Target]:
    """What to run, from the command's options; CheckError/ConfigError on bad usage."""
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
        return [_stack_target(name, program, region, root, regions) for name in names]
    if stacks:
        return [_stack_target(name, program, region, root, regions) for name in stacks]
    if program_dir is None:
        raise CheckError("nothing to check: give --stack STACK, --all or --program DIR")
    if region is None:
        raise CheckError("--program without --stack needs --region (the boundary to check against)")
    project, declared = _project(program, root)
    ctx = context_for_profile(load_profile(region, root), regions=regions)
    label = display_path(program, root)
    return [Target(label, program, project, "check", _config_values(project, declared, {}), ctx)]


# --- running programs ----------------------------------------------------------------------------


def _normal_urn(urn: str) -> str:
    """The mock monitor puts the root stack in every type chain; the engine does not."""
    return urn.replace("::pulumi:pulumi:Stack$", "::")


def views_from_records(records: Sequence[Mapping[str, Any]], target: Target) -> list[ResourceView]:
    """Recorded registrations as ResourceViews, each with its provider. Resources without an explicit
    provider get the package's default provider, built from the stack's `<package>:*` config as the
    engine builds it, and listed as resources themselves (the engine's policies see those too)."""
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
        views.append(
            ResourceView(canonical_type(type_), record["name"], _normal_urn(record["urn"]), record["inputs"], provider)
        )
    views.extend(ResourceView(p.type, p.name, p.urn, p.props) for p in defaults.values())
    return views


def record(target: Target) -> list[dict[str, Any]]:
    """Run the target's program in a fresh interpreter and return its registrations."""
    config_json, secret_keys = pulumi_config_env(target.config)
    env = os.environ | {"PULUMI_CONFIG": config_json, "PULUMI_CONFIG_SECRET_KEYS": secret_keys}
    with tempfile.TemporaryDirectory(prefix="autocloud-check-") as scratch:
        out = Path(scratch) / "resources.json"
        command = [
            sys.executable, "-m", "autocloud.check_runner",
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
    if "error" in result:
        raise CheckError(f"the program failed: {result['error']}")
    resources: list[dict[str, Any]] = result["resources"]
    return resources


def evaluate(target: Target, evaluator: Evaluator) -> Outcome:
    try:
        views = views_from_records(record(target), target)
    except CheckError as error:
        return Outcome(target, error=str(error))
    evaluation = evaluator.run(views, target.ctx, stack=target.label)
    return Outcome(target, resources=len(views), violations=evaluation.violations)


def check_targets(targets: Sequence[Target]) -> list[Outcome]:
    """Run every target (in parallel: each is its own process) and judge it with all packs."""
    evaluator = Evaluator(ALL_RULES, _PACK_OF)
    workers = max(1, min(len(targets), os.cpu_count() or 1))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda t: evaluate(t, evaluator), targets))


# --- output --------------------------------------------------------------------------------------


def _detail(violation: Violation) -> str:
    """The message without its `[rule] resource (type): ` prefix, for tables that show those."""
    return violation.message.split("): ", 1)[-1]


def _resource(violation: Violation) -> str:
    return violation.urn.rsplit("::", 1)[-1]


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
            resource = f"{escape(_resource(v))}\n[dim]{escape(v.type)}[/dim]"
            table.add_row(escape(v.stack), level, v.policy, resource, escape(_detail(v)))
        console.print(table)
    for o in outcomes:
        if o.error is not None:
            console.print(f"[red]{escape(o.target.label)}: could not check[/red]: {escape(o.error)}")
            continue
        state = "[red]FAIL[/red]" if o.mandatory else "[green]ok[/green]"
        console.print(
            f"{state} {escape(o.target.label)} (region {o.target.ctx.region}): {o.resources} resources, "
            f"{o.mandatory} mandatory, {o.advisory} advisory"
        )


def render_json(outcomes: Sequence[Outcome]) -> str:
    return json.dumps([v.as_dict() for o in outcomes for v in o.violations], indent=2) + "\n"


def _cell(text: object) -> str:
    """A Markdown table cell: pipes escaped, line breaks flattened."""
    return " ".join(str(text).split()).replace("|", "\\|")


def render_markdown(outcomes: Sequence[Outcome]) -> str:
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=False,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    environment.filters["cell"] = _cell
    environment.filters["detail"] = _detail
    environment.filters["resource"] = _resource
    return environment.get_template("check.md.j2").render(
        outcomes=outcomes,
        violations=[v for o in outcomes for v in o.violations],
        failed=any(o.mandatory or o.error for o in outcomes),
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
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """`autocloud check`: 0 clean, 1 on a mandatory violation, 2 on a usage/config error.

    `stacks` run the repository program (or `program_dir`) with `stacks/Pulumi.<stack>.yaml`;
    `all_stacks` runs every stack file; `program_dir` alone needs `region`. `region` overrides the
    stack's region profile. Results go to `out` (stdout), one-line errors to `err` (stderr).
    """
    out = out or sys.stdout
    err = err or sys.stderr
    base = (root or REPO_ROOT).resolve()
    try:
        if fmt not in FORMATS:
            raise CheckError(f"--format {excerpt(fmt)}: choose one of {', '.join(FORMATS)}")
        targets = resolve_targets(stacks, all_stacks, program_dir, region, base)
    except (CheckError, ConfigError, ValueError) as error:
        print(f"error: {error}", file=err)
        return 2
    outcomes = check_targets(targets)
    if fmt == "json":
        out.write(render_json(outcomes))
    elif fmt == "markdown":
        out.write(render_markdown(outcomes))
    else:
        render_text(outcomes, out)
    failed = [o for o in outcomes if o.error is not None]
    if fmt != "text":
        for outcome in failed:
            print(f"error: {outcome.target.label}: {outcome.error}", file=err)
    if failed:
        return 2
    return 1 if any(o.mandatory for o in outcomes) else 0
