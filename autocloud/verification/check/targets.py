"""What `autocloud check` runs: from its options and the stack files to targets, each a program with
its config (as the Pulumi CLI merges it) and the region whose rules judge it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autocloud.runtime import fleet_pki
from platform_model.errors import InputError
from platform_model.inputs import load_mapping
from platform_model.profiles import available_profiles, display_path, load_profile
from platform_model.stack import (
    LOCATION_KEY,
    REGION_KEY,
    RELAX_KEY,
    resolve_values,
    stack_file_config,
    stack_names,
    stack_path,
)
from policies.config import context_for_profile
from policies.model import RuleContext


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
        file_values = (
            stack_file_config(self.file.resolve(), display_path(self.file.resolve(), root))
            if self.file is not None
            else {}
        )
        return [file_values, parse_config_pairs(self.pairs)]


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
        values = _config_values(project, declared, stack_file_config(own, display_path(own, root)), *given.layers(root))
        ctx = context_for_profile(load_profile(region, root), regions=regions)
        return Target(f"{display_path(program, root)}:{stack}", program, project, stack, values, ctx)
    path = stack_path(stack, root)
    label = display_path(path, root)
    values = _config_values(project, declared, stack_file_config(path, label), *given.layers(root))
    if region is not None:
        # Judged for another region: its profile, the stack's own fleet and relaxations; the stack's
        # location stays in what the program gets (and is judged), not in what picks the profile.
        stack_values = {k: v for k, v in values.items() if k != LOCATION_KEY}
        resolved = resolve_values(stack, stack_values | {REGION_KEY: region}, f"{label} (with --region)", root=root)
    else:
        resolved = resolve_values(stack, values, label, root=root)
    # A local stack runs with its region's fleet CA from this machine, as `autocloud up` runs it.
    values = {**values, **fleet_pki.local_run_config(resolved, create=False)}
    try:
        ctx = context_for_profile(
            resolved.profile, relaxed=resolved.config.policy_relax, regions=regions, source=f"{label}: {RELAX_KEY}"
        )
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
        names = stack_names(root / "stacks")
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
