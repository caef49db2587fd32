"""The Python environment a checked program runs in: its own dependencies, installed once.

A public program pins its SDKs (`pulumi-azure-native>=2,<3` beside a `pulumi` of its time); run with
the checker's own SDKs it would meet another major version's API. `autocloud check` therefore reads
what the program declares, as `pulumi install` would (its `Pulumi.yaml` `runtime.options.virtualenv`,
`requirements.txt`, or `pyproject.toml`'s `[project].dependencies`), installs that with pip into a
virtual environment under the user's cache (`~/.cache/autocloud/check-envs/<hash>`, shared by every
checkout), keyed by the declaration and the interpreter
version so an unchanged program never installs twice, and runs the program there. A program that
declares nothing runs with the checker's interpreter, as before.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import subprocess
import sys
import tomllib
import venv
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import yaml

from platform_model.errors import ConfigError
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
        dependencies = data.get("project", {}).get("dependencies")
        if isinstance(dependencies, list) and dependencies:
            return Declared("pyproject.toml [project].dependencies", tuple(str(d) for d in dependencies))
    return None


def env_key(requirements: tuple[str, ...]) -> str:
    """Same requirements on the same interpreter -> same environment."""
    blob = json.dumps({"python": sys.version_info[:2], "requirements": sorted(requirements)})
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


@contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """One builder per environment, even across parallel targets and processes."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    with open(folder.parent / f"{folder.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


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
    with _locked(folder):
        if (folder / READY).is_file():
            return python
        venv.EnvBuilder(clear=True, with_pip=True).create(folder)
        command = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *found.requirements]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S, check=False)
        except subprocess.TimeoutExpired:
            raise EnvError(f"{found.source}: installing took longer than {INSTALL_TIMEOUT_S}s") from None
        if done.returncode != 0:
            lines = [line for line in done.stderr.splitlines() if line.strip()]
            raise EnvError(f"{found.source}: pip could not install it: {lines[-1] if lines else done.returncode}")
        (folder / READY).write_text(json.dumps(found.requirements), encoding="utf-8")
    return python


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
