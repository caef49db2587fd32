"""Where the repository keeps its build outputs and local state (all git-ignored)."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
TOOLCHAIN_DIR = REPO_ROOT / ".toolchain"
TOOLCHAIN_BIN = TOOLCHAIN_DIR / "bin"
STATE_DIR = REPO_ROOT / ".state"
STACKS_DIR = REPO_ROOT / "stacks"
REGIONS_DIR = REPO_ROOT / "regions"
POLICIES_DIR = REPO_ROOT / "policies"
