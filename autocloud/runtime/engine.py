"""How autocloud runs the Pulumi engine offline: built CLI, file backend, encrypted secrets.

Every entry point (CLI, rollouts, tests) takes its environment from `engine_env()`, so nobody has
to export Pulumi variables by hand and nothing reaches for the network.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pulumi import automation as auto

from autocloud.runtime import cluster, reaper
from autocloud.runtime.backend import resolve_backend_url
from autocloud.runtime.secrets_provider import PASSPHRASE, resolve_secrets_provider
from autocloud.runtime.toolchain import PULUMI_HOME
from platform_model.errors import InputError
from platform_model.inputs import read_text
from platform_model.paths import REPO_ROOT, STATE_DIR, TOOLCHAIN_BIN, TOOLCHAIN_DIR
from platform_model.stack import OVERRIDES_ENV as OVERRIDES_ENV


def backend_dir(state_dir: Path = STATE_DIR) -> Path:
    return state_dir / "backend"


def passphrase_file(state_dir: Path = STATE_DIR) -> Path:
    """A random passphrase made once per checkout; it encrypts every secret in the local state."""
    path = state_dir / "passphrase"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(32) + "\n")
        path.chmod(0o600)
    return path


def engine_env(
    state_dir: Path = STATE_DIR,
    kubeconfig: Path | None = None,
    backend_url: str | None = None,
    secrets_provider: str = PASSPHRASE,
) -> dict[str, str]:
    """`backend_url` (else AUTOCLOUD_BACKEND_URL; see autocloud.runtime.backend, e.g. a team's azblob://
    container) replaces the default file backend under state_dir; its credentials come from the
    caller's environment. The engine and its plugins carry this process's run marker, so they end
    with it (autocloud.runtime.reaper).

    The checkout's passphrase is forced on the engine only for a passphrase stack: set for a stack
    whose secrets a Key Vault key wraps (autocloud.runtime.secrets_provider), it would make Pulumi
    reach for the passphrase. Such a stack instead lets Pulumi take the secrets manager from the
    stack's state when this checkout's stack file does not record one yet
    (PULUMI_FALLBACK_TO_STATE_SECRETS_MANAGER, pulumi sdk/go/common/env/env.go), so a colleague's or
    CI's first run on a team stack decrypts with the team's key instead of making a new one."""
    if backend_url is None:
        backend_url = resolve_backend_url()
    if backend_url is None:
        backend = backend_dir(state_dir)
        backend.mkdir(parents=True, exist_ok=True)
        backend_url = backend.as_uri()
    env = {
        "PATH": f"{TOOLCHAIN_BIN}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "PULUMI_HOME": str(PULUMI_HOME),
        "PULUMI_IGNORE_AMBIENT_PLUGINS": "true",
        "PULUMI_BACKEND_URL": backend_url,
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
        "PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK": "true",
        "PULUMI_DIY_BACKEND_NO_LEGACY_WARNING": "true",
        "KUBECONFIG": str(kubeconfig or cluster.kubeconfig_path()),
        reaper.MARKER: reaper.run_marker(),
    }
    if secrets_provider == PASSPHRASE:
        env["PULUMI_CONFIG_PASSPHRASE_FILE"] = str(passphrase_file(state_dir))
    else:
        env["PULUMI_FALLBACK_TO_STATE_SECRETS_MANAGER"] = "true"
    return env


def pulumi_command() -> auto.PulumiCommand:
    if not (TOOLCHAIN_BIN / "pulumi").is_file():
        raise FileNotFoundError(f"{TOOLCHAIN_BIN / 'pulumi'} is missing: build the toolchain first (make toolchain)")
    return auto.PulumiCommand(root=str(TOOLCHAIN_DIR), skip_version_check=True)


MIRRORED = ("__main__.py", "Pulumi.yaml", "autocloud", "components", "policies", "regions", ".venv")
SALT_KEY = "encryptionsalt:"
ENGINE_KEYS = (SALT_KEY, "encryptedkey:", "secretsprovider:")
"""Top-level stack file keys the engine writes when it creates a stack: a passphrase's salt, or a
cloud provider's URL and the data key it wrapped."""


def project_mirror(state_dir: Path = STATE_DIR, root: Path = REPO_ROOT) -> Path:
    """The project as the engine sees it: the repository's code linked in, its stack files copied.

    Creating a stack with a passphrase writes an encryption salt into the stack file, and that salt
    belongs to this checkout's random passphrase; keeping it in a copy under .state means the
    repository's stack files are never rewritten and a fresh clone never meets a foreign salt.
    Each call refreshes the copies from the repository and keeps what the engine wrote (ENGINE_KEYS)
    unless the repository's file sets that key itself.
    """
    mirror = state_dir / "project"
    (mirror / "stacks").mkdir(parents=True, exist_ok=True)
    for name in MIRRORED:
        link = mirror / name
        if not link.is_symlink():
            link.symlink_to(root / name)
    for source in sorted((root / "stacks").glob("Pulumi.*.yaml")):
        target = mirror / "stacks" / source.name
        body = [
            line for line in read_text(source, f"stacks/{source.name}").splitlines() if not line.startswith(SALT_KEY)
        ]
        declared = {key for key in ENGINE_KEYS if any(line.startswith(key) for line in body)}
        written = [
            line for line in _lines(target) if line.startswith(ENGINE_KEYS) and not line.startswith(tuple(declared))
        ]
        declared_provider = _provider_line(body)
        if declared_provider is not None and declared_provider != _provider_line(_lines(target)):
            # The repository names another provider: the data key wrapped by the old one cannot serve it.
            written = [line for line in written if not line.startswith("encryptedkey:")]
        text = "\n".join(body + written) + "\n"
        if _lines(target) != text.splitlines():
            target.write_text(text)
    return mirror


def _provider_line(lines: list[str]) -> str | None:
    return next((line for line in lines if line.startswith("secretsprovider:")), None)


def _lines(path: Path) -> list[str]:
    try:
        return path.read_text().splitlines()
    except OSError:
        return []


def select_stack(
    stack: str,
    work_dir: Path = REPO_ROOT,
    state_dir: Path = STATE_DIR,
    kubeconfig: Path | None = None,
    overrides: Mapping[str, str | int | float | bool] | None = None,
    backend_url: str | None = None,
    secrets_provider: str | None = None,
) -> auto.Stack:
    """Create or select a stack of the project in work_dir on the local backend (or backend_url).

    A stack created here gets its secrets provider from autocloud.runtime.secrets_provider
    (`secrets_provider`, else the stack file, else the environment, else the passphrase), passed
    as `pulumi stack init --secrets-provider`; an existing stack keeps the one it has (change it
    with `pulumi stack change-secrets-provider`, docs/engine.md)."""
    provider = resolve_secrets_provider(stack, secrets_provider)
    env = engine_env(state_dir, kubeconfig, backend_url, provider)
    if overrides:
        env[OVERRIDES_ENV] = json.dumps(dict(overrides), sort_keys=True)
    if work_dir == REPO_ROOT:
        work_dir = project_mirror(state_dir)
    opts = auto.LocalWorkspaceOptions(
        work_dir=str(work_dir), env_vars=env, pulumi_command=pulumi_command(), secrets_provider=provider
    )
    return auto.create_or_select_stack(stack_name=stack, work_dir=str(work_dir), opts=opts)


def existing_stack(stack: str, state_dir: Path = STATE_DIR, backend_url: str | None = None) -> auto.Stack:
    """A deployed stack of this project, selected without creating it where it does not exist: reading
    must not leave an empty stack behind on a team backend. InputError when it is not deployed."""
    provider = resolve_secrets_provider(stack)
    env = engine_env(state_dir, None, backend_url, provider)
    work_dir = project_mirror(state_dir)
    opts = auto.LocalWorkspaceOptions(
        work_dir=str(work_dir), env_vars=env, pulumi_command=pulumi_command(), secrets_provider=provider
    )
    try:
        return auto.select_stack(stack_name=stack, work_dir=str(work_dir), opts=opts)
    except auto.errors.StackNotFoundError:
        raise InputError(
            f"stack {stack} is not deployed on backend {env['PULUMI_BACKEND_URL']} "
            "(AUTOCLOUD_BACKEND_URL names a team backend)"
        ) from None


def stack_outputs(stack: str, state_dir: Path = STATE_DIR, backend_url: str | None = None) -> dict[str, Any]:
    """A deployed stack's outputs (secrets decrypted), read without creating the stack."""
    handle = existing_stack(stack, state_dir, backend_url)
    return {key: output.value for key, output in handle.outputs().items()}
