"""The Python environment a checked program runs in: its own dependencies, installed once.

A public program pins its SDKs (`pulumi-azure-native>=2,<3` beside a `pulumi` of its time); run with
the checker's own SDKs it would meet another major version's API. `autocloud check` therefore reads
what the program declares, as `pulumi install` would (its `Pulumi.yaml` `runtime.options.virtualenv`,
`requirements.txt`, `poetry.lock` (the versions it pins, from the program's main dependencies), or
`pyproject.toml`'s `[project].dependencies` or `[tool.poetry.dependencies]`), installs that with uv into a
virtual environment under the user's cache (`~/.cache/autocloud/check-envs/<hash>`, shared by every
checkout), keyed by the declaration and the interpreter
version so an unchanged program never installs twice, and runs the program there. A program that
declares nothing runs with the checker's interpreter, as before.

Environments share what they install: uv keeps one cache of unpacked packages (`check-envs/uv-cache`)
and hard-links each environment's files from it ("hardlink: Hard link packages from the wheel into the
`site-packages` directory", uv's `--link-mode`, https://docs.astral.sh/uv/reference/cli/#uv-pip-install),
so thirty programs pinning the same azure-native cost its disk once, and a program whose versions are
already cached is ready in seconds. uv reads the system's certificate store (`--native-tls`) and the
index settings pip is given (`PIP_INDEX_URL`, `PIP_EXTRA_INDEX_URL`, `PIP_FIND_LINKS`, `PIP_CERT`).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from platform_model.errors import ConfigError
from platform_model.files import one_builder_at_a_time
from platform_model.paths import user_cache_dir

INSTALL_TIMEOUT_S = 1800
READY = ".ready"
"""Written last, after pip succeeded: a folder without it is a half-built environment."""


@dataclass(frozen=True)
class Declared:
    """What the program asks to be installed, and from which file (for messages)."""

    source: str
    requirements: tuple[str, ...]
    virtualenv: Path | None = None
    """An environment the program names in Pulumi.yaml and that already exists: used as it is."""


def _runtime_virtualenv(program: Path) -> Path | None:
    path = program / "Pulumi.yaml"
    if not path.is_file():
        return None
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError:
        return None
    runtime = data.get("runtime") if isinstance(data, dict) else None
    options = runtime.get("options") if isinstance(runtime, dict) else None
    folder = options.get("virtualenv") if isinstance(options, dict) else None
    return (program / str(folder)).resolve() if folder else None


def _requirements_file(path: Path) -> tuple[str, ...]:
    lines = (line.split("#", 1)[0].strip() for line in path.read_text(encoding="utf-8").splitlines())
    return tuple(line for line in lines if line)


def declared(program: Path) -> Declared | None:
    """The program's declared dependencies, or None when it declares none."""
    existing = _runtime_virtualenv(program)
    if existing is not None and (existing / "bin" / "python").is_file():
        return Declared("Pulumi.yaml runtime.options.virtualenv", (), existing)
    requirements = program / "requirements.txt"
    if requirements.is_file():
        return Declared("requirements.txt", _requirements_file(requirements))
    pyproject = program / "pyproject.toml"
    if pyproject.is_file():
        try:
            data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as error:
            raise ConfigError(str(pyproject), "", f"not valid TOML: {error}") from None
        lock = program / "poetry.lock"
        poetry = data.get("tool", {}).get("poetry", {}).get("dependencies")
        if lock.is_file() and (isinstance(poetry, dict) or _poetry_toolchain(program)):
            listed = data.get("project", {}).get("dependencies", [])
            roots = list(poetry or {}) or [_requirement_name(str(d)) for d in listed]
            return Declared("poetry.lock", locked_requirements(lock, roots))
        dependencies = data.get("project", {}).get("dependencies")
        if isinstance(dependencies, list) and dependencies:
            return Declared("pyproject.toml [project].dependencies", tuple(str(d) for d in dependencies))
        if isinstance(poetry, dict) and poetry:
            found = tuple(filter(None, (_poetry_requirement(k, v) for k, v in poetry.items())))
            return Declared("pyproject.toml [tool.poetry.dependencies]", found) if found else None
    return None


def _poetry_toolchain(program: Path) -> bool:
    """Whether Pulumi.yaml says `runtime.options.toolchain: poetry` (what `pulumi install` then uses)."""
    path = program / "Pulumi.yaml"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) if path.is_file() else None
    except yaml.YAMLError:
        return False
    runtime = data.get("runtime") if isinstance(data, dict) else None
    options = runtime.get("options") if isinstance(runtime, dict) else None
    return isinstance(options, dict) and options.get("toolchain") == "poetry"


def _requirement_name(requirement: str) -> str:
    """The distribution name a PEP 508 requirement starts with."""
    name = requirement.strip()
    for stop in "[<>=!~; (":
        name = name.split(stop, 1)[0]
    return name


def _normal_name(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def _poetry_constraint(constraint: str) -> str:
    """A Poetry version constraint as a PEP 440 specifier: `^2.1` (>=2.1,<3), `~2.1` (>=2.1,<2.2),
    `*` (any), a bare version (==), anything else as written (`>=2,<3`)."""
    constraint = constraint.strip()
    if constraint in ("", "*"):
        return ""
    if constraint[0] in "^~" and constraint[1:2] != "=":
        parts = constraint[1:].strip().split(".")
        numbers = [int(p) if p.isdigit() else 0 for p in parts]
        if constraint[0] == "^":
            first = next((i for i, n in enumerate(numbers) if n), len(numbers) - 1)
        else:
            first = min(1, len(numbers) - 1) if len(numbers) > 1 else 0
        upper = numbers[: first + 1]
        upper[-1] += 1
        return f">={'.'.join(parts)},<{'.'.join(map(str, upper))}"
    if constraint[0].isdigit():
        return f"=={constraint}"
    return constraint


def _poetry_requirement(name: str, spec: object) -> str | None:
    """One `[tool.poetry.dependencies]` entry as a pip requirement (`python` is the interpreter, not
    a package; path, git and url sources are left out: the check installs from the package index)."""
    if name.lower() == "python":
        return None
    if isinstance(spec, dict):
        if not isinstance(spec.get("version"), str):
            return None
        extras = spec.get("extras")
        name = f"{name}[{','.join(extras)}]" if isinstance(extras, list) and extras else name
        spec = spec["version"]
    return f"{name}{_poetry_constraint(spec)}" if isinstance(spec, str) else None


def locked_requirements(lock: Path, roots: list[str]) -> tuple[str, ...]:
    """The versions `poetry install` would install: every package of `poetry.lock` reachable from
    the program's main dependencies (`roots`), pinned (`name==version`, with the lock's environment
    markers, which pip evaluates)."""
    try:
        packages = tomllib.loads(lock.read_text(encoding="utf-8")).get("package", [])
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(str(lock), "", f"not valid TOML: {error}") from None
    by_name = {_normal_name(str(p.get("name", ""))): p for p in packages if isinstance(p, dict)}
    markers: dict[str, str] = {}
    pending = [(_normal_name(r), "") for r in roots if r.lower() != "python"]
    while pending:
        name, marker = pending.pop()
        if name in markers or name not in by_name:
            if name in markers and not marker:
                markers[name] = ""  # needed unconditionally somewhere: no marker
            continue
        markers[name] = marker
        for dependency, spec in (by_name[name].get("dependencies") or {}).items():
            sub = spec.get("markers", "") if isinstance(spec, dict) else ""
            pending.append((_normal_name(dependency), str(sub or marker)))
    pins = []
    for name in sorted(markers):
        pin = f"{by_name[name]['name']}=={by_name[name]['version']}"
        pins.append(f"{pin}; {markers[name]}" if markers[name] else pin)
    return tuple(pins)


def env_key(requirements: tuple[str, ...]) -> str:
    """Same requirements on the same interpreter -> same environment."""
    blob = json.dumps({"python": sys.version_info[:2], "requirements": sorted(requirements), "installer": "uv"})
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


class EnvError(Exception):
    """The program's dependencies could not be installed: one line naming the file that declares them."""


def ensure_env(program: Path, cache: Path) -> Path | None:
    """The interpreter to run `program` with: its existing or cached environment's python, built
    now if needed; None to use the checker's own. EnvError when pip fails."""
    found = declared(program)
    if found is None:
        return None
    if found.virtualenv is not None:
        return found.virtualenv / "bin" / "python"
    folder = cache / "check-envs" / env_key(found.requirements)
    python = folder / "bin" / "python"
    with one_builder_at_a_time(folder):
        if (folder / READY).is_file():
            return python
        uv = _uv_binary()
        steps = [
            [uv, "venv", "--quiet", "--clear", "--python", sys.executable, str(folder)],
            [uv, "pip", "install", "--quiet", "--python", str(python), *UV_INSTALL_OPTIONS,
             "--cache-dir", str(cache / "check-envs" / UV_CACHE), *found.requirements],
        ]  # fmt: skip
        for command in steps:
            try:
                done = subprocess.run(
                    command,
                    capture_output=True,
                    text=True,
                    timeout=INSTALL_TIMEOUT_S,
                    check=False,
                    env=uv_env(os.environ),
                )
            except subprocess.TimeoutExpired:
                raise EnvError(f"{found.source}: installing took longer than {INSTALL_TIMEOUT_S}s") from None
            if done.returncode != 0:
                lines = [line for line in done.stderr.splitlines() if line.strip()]
                raise EnvError(f"{found.source}: uv could not install it: {lines[-1] if lines else done.returncode}")
        (folder / READY).write_text(json.dumps(found.requirements), encoding="utf-8")
    return python


UV_CACHE = "uv-cache"
UV_INSTALL_OPTIONS = ("--link-mode", "hardlink", "--native-tls")
PIP_TO_UV = {
    "PIP_INDEX_URL": "UV_INDEX_URL",
    "PIP_EXTRA_INDEX_URL": "UV_EXTRA_INDEX_URL",
    "PIP_FIND_LINKS": "UV_FIND_LINKS",
    "PIP_CERT": "SSL_CERT_FILE",
}
"""pip's index and certificate settings under the names uv reads, so both install from the same places."""


def uv_env(environ: Mapping[str, str]) -> dict[str, str]:
    """``environ`` with pip's settings repeated for uv where uv's own are not set."""
    env = dict(environ)
    for pip_name, uv_name in PIP_TO_UV.items():
        if pip_name in environ and uv_name not in environ:
            env[uv_name] = environ[pip_name]
    return env


def _uv_binary() -> str:
    """The uv executable the `uv` package installed beside this interpreter."""
    from uv import find_uv_bin

    return find_uv_bin()


SOURCE_ROOT = Path(__file__).resolve().parents[len(__name__.split(".")) - 1]
"""Where the `autocloud`, `policies` and `platform_model` packages live: this module's folder, up as
many levels as its dotted name is deep."""


def runner_env(python: Path | None) -> dict[str, str]:
    """Environment variables for the runner: in a program's own environment, the checker's
    `autocloud.verification.check.runner` and `policies` are found on PYTHONPATH (they import only what any
    Pulumi SDK install brings)."""
    if python is None:
        return {}
    paths = [str(SOURCE_ROOT), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    return {"PYTHONPATH": os.pathsep.join(paths)}


def main(argv: list[str]) -> int:
    """`python -m autocloud.verification.check.program_env PROGRAM...`: build the programs' environments
    ahead of a check (`make test` does it for its sample programs while the toolchain builds)."""
    for program in argv:
        try:
            python = ensure_env(Path(program), user_cache_dir())
        except EnvError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        print(f"{program}: {python or 'no environment of its own'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
