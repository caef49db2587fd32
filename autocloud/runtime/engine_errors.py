"""The engine's failure in one line: its own diagnosis (policy violations, error lines and the causes
listed under them), each cause once, never the whole log."""

from __future__ import annotations

import re

from pulumi import automation as auto

from autocloud.runtime.toolchain import PULUMI_HOME
from platform_model.paths import TOOLCHAIN_BIN

_MISSING_PLUGIN = re.compile(
    r"no resource plugin '(?:pulumi-resource-)?(?P<name>[\w-]+)' found.*?version v?(?P<version>\d[\w.+-]*)",
    re.IGNORECASE,
)

_MULTI_ERROR = re.compile(r"\d+ errors? occurred:?\s*$")
"""How the engine introduces several causes, each on its own following line as ``* ...``."""

_SUMMARIES = frozenset(f"{op} failed" for op in ("preview", "update", "destroy", "refresh"))
"""What the engine says after a step's own error; it adds nothing when that error is kept."""


def missing_plugin(text: str) -> str | None:
    """One line for the engine's "no resource plugin ... found" error: which plugin, which version, and
    the command that installs it where the toolkit's engine looks (its own PULUMI_HOME; ambient plugins
    and automatic downloads are off, see autocloud.runtime.engine)."""
    found = _MISSING_PLUGIN.search(text)
    if found is None:
        return None
    name, version = found["name"], found["version"]
    return (
        f"the Pulumi resource plugin {name} v{version} is not installed; install it with "
        f"`PULUMI_HOME={PULUMI_HOME} {TOOLCHAIN_BIN / 'pulumi'} plugin install resource {name} "
        f"{version}` (README: Deploy to Azure)"
    )


def short_error(exc: auto.errors.CommandError) -> str:
    """The engine's own diagnosis: the policy violations and error lines (with the causes it lists
    under "N errors occurred:"), not the whole log; a missing plugin as one line naming it, its
    version and the install command.

    The engine reports one failure several times: on the resource's progress line, again under
    Diagnostics, and wrapped in its parent's error. A line whose cause (the text after ``error:``)
    another kept line already holds is left out, as is the bare "preview failed" summary when a
    cause is kept."""
    plugin = missing_plugin(str(exc))
    if plugin is not None:
        return plugin
    lines = [line.strip() for line in str(exc).splitlines()]
    mandatory = [line for line in lines if "[mandatory]" in line]
    errors: list[str] = []
    causes = False
    for line in lines:
        if causes and line.startswith("*"):
            errors.append(line)  # the causes the engine lists under "N errors occurred:"
            continue
        causes = _MULTI_ERROR.search(line) is not None
        if "error:" in line or "violat" in line.lower():
            errors.append(line)
    keep = _once(list(dict.fromkeys(mandatory + errors)))
    lines = [line for line in lines if line]
    return " | ".join(keep)[:2000] or (lines[-1][:500] if lines else "failed")


def _cause(line: str) -> str:
    return line.partition("error:")[2].strip() if "error:" in line else line


def _once(lines: list[str]) -> list[str]:
    """Each cause once: the first line of those whose cause repeats or is inside a longer one kept."""
    causes = [_cause(line) for line in lines]
    kept: list[str] = []
    seen: list[str] = []
    for line, cause in zip(lines, causes, strict=True):
        inside = any(cause in other for other in causes if other != cause)
        if cause in seen or (inside and "error:" in line and cause):
            continue
        seen.append(cause)
        kept.append(line)
    specific = [line for line in kept if _cause(line) not in _SUMMARIES]
    return specific or kept
