"""Where the repository keeps its build outputs and local state (all git-ignored)."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
TOOLCHAIN_DIR = REPO_ROOT / ".toolchain"
TOOLCHAIN_BIN = TOOLCHAIN_DIR / "bin"
_STATE_OVERRIDE = os.environ.get("AUTOCLOUD_STATE_DIR")
STATE_DIR = Path(_STATE_OVERRIDE).resolve() if _STATE_OVERRIDE else REPO_ROOT / ".state"
"""Local state (cluster, file backend, passphrase, policy config, rollout records); AUTOCLOUD_STATE_DIR
moves all of it, e.g. for a test that drives the real CLI without touching the checkout's."""
STACKS_DIR = REPO_ROOT / "stacks"
POLICIES_DIR = REPO_ROOT / "policies"


def user_cache_dir() -> Path:
    """Downloads worth keeping across checkouts (a checked program's environment is ~2 GB):
    ``AUTOCLOUD_CACHE_DIR``, else ``$XDG_CACHE_HOME/autocloud``, else ``~/.cache/autocloud``."""
    explicit = os.environ.get("AUTOCLOUD_CACHE_DIR")
    if explicit:
        return Path(explicit)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "autocloud"


CLUSTER_DIR = STATE_DIR / "cluster"
"""The embedded cluster's folder (``autocloud.runtime.cluster`` lays it out)."""
FLEET_DIR = STATE_DIR / "fleet"
"""Each region's fleet CA, ``<region>/ca.pem`` and ``<region>/ca-key.pem`` (``autocloud.operations.fleet``)."""


def external_kubeconfig(embedded: Path | None = None) -> Path | None:
    """The other cluster the user asked for with ``KUBECONFIG`` (its first entry), if any: the one place
    that decides whether KUBECONFIG replaces the embedded cluster. The embedded cluster's own kubeconfig
    (``embedded``, by default this checkout's) is not another cluster: a user exports it to run kubectl,
    and the cluster it names must still be started and stopped here."""
    value = os.environ.get("KUBECONFIG", "").strip()
    if not value:
        return None
    named = Path(value.split(os.pathsep)[0]).expanduser()
    if named.resolve() == (embedded or CLUSTER_DIR / "kubeconfig").resolve():
        return None
    return named


def kubeconfig_path() -> Path:
    """``KUBECONFIG`` (its first entry) or, unset, the embedded cluster's kubeconfig."""
    return external_kubeconfig() or CLUSTER_DIR / "kubeconfig"
