"""The pull-request comment: `autocloud check --format markdown` plus what GitHub needs around it.

The preview workflow posts one comment per pull request and edits it on every push. It finds that
comment again by a hidden marker on the first line, so the marker lives here and nowhere else: the
workflow's script reads it back from the first line of the body this module writes. The check's own
Markdown (the template the tests exercise) is kept as it is; this only adds the marker, a fallback
when the check printed nothing, a link to the run, and a cut at GitHub's comment size limit.

    autocloud check --all --format markdown > check.md; code=$?
    autocloud pr-comment check.md --exit-code "$code" --run-url URL --out comment.md

With ``--cost cost.json`` (what `autocloud cost --all --format json` printed on the pull request's head)
and ``--base-cost base.json`` (the same on its base), the comment adds each region's monthly cost and
its change.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from autocloud.verification.cost import cost_change_markdown
from platform_model.errors import ConfigError
from platform_model.inputs import read_text

MARKER = "<!-- autocloud-check -->"
"""Hidden first line of our comment; how the workflow tells it apart from everyone else's."""

MAX_COMMENT_CHARS = 65_536
"""GitHub refuses issue comments longer than this (characters)."""

CHECK_MARKDOWN_LIMIT = 8 * 2**20
"""The check's Markdown read at most: far over a comment, enough for thousands of violations."""

EXIT_MEANING = {
    0: "all stacks comply",
    1: "mandatory policy violations",
    2: "a stack could not be checked completely (usage, configuration or program error)",
}


def _footer(exit_code: int, run_url: str | None) -> str:
    meaning = EXIT_MEANING.get(exit_code, "unexpected exit")
    where = f" · [workflow run]({run_url})" if run_url else ""
    return f"<sub>`autocloud check --all` exited {exit_code}: {meaning}{where}</sub>\n"


def build_comment(check_markdown: str, exit_code: int, run_url: str | None = None, cost_markdown: str = "") -> str:
    """The full comment body: marker, the check's Markdown (or a fallback), a footer.

    A check that crashed before printing still gets a comment, so a red job never leaves the pull
    request silent. Bodies over GitHub's limit are cut on a line boundary with a pointer to the run.
    """
    report = check_markdown.strip()
    if not report:
        report = (
            "## autocloud check: ⚠️ no report\n\n`autocloud check` printed nothing; its error is in the workflow log."
        )
    if cost_markdown.strip():
        report = f"{report}\n\n{cost_markdown.strip()}"
    footer = _footer(exit_code, run_url)
    body = f"{MARKER}\n{report}\n\n{footer}"
    if len(body) <= MAX_COMMENT_CHARS:
        return body
    note = "\n\n> The report is too long for a comment and was cut; the job summary has all of it.\n\n"
    room = MAX_COMMENT_CHARS - len(MARKER) - len(note) - len(footer) - 1
    cut = report[:room].rsplit("\n", 1)[0]
    return f"{MARKER}\n{cut}{note}{footer}"


def _cost_document(path: Path) -> dict[str, Any]:
    """What `autocloud cost --format json` wrote; ConfigError naming the file when it is not that."""
    try:
        document = json.loads(read_text(path, limit=CHECK_MARKDOWN_LIMIT))
    except ValueError as error:
        raise ConfigError(str(path), "", f"not JSON: {error}") from None
    if not isinstance(document, dict) or not isinstance(document.get("stacks"), list):
        raise ConfigError(str(path), "stacks", "not what `autocloud cost --format json` prints")
    return document


def comment_for(
    check_markdown: Path,
    exit_code: int,
    run_url: str | None = None,
    cost: Path | None = None,
    base_cost: Path | None = None,
) -> str:
    """The comment for the check's Markdown file; a missing file (the check crashed before writing)
    gets the fallback, a file that is not UTF-8 text is a ConfigError naming it. ``cost`` and
    ``base_cost`` add the cost section; a base file that does not exist (the base branch could not be
    priced) leaves the change column empty."""
    markdown = read_text(check_markdown, limit=CHECK_MARKDOWN_LIMIT) if check_markdown.exists() else ""
    section = ""
    if cost is not None:
        base = _cost_document(base_cost) if base_cost is not None and base_cost.exists() else None
        section = cost_change_markdown(_cost_document(cost), base)
    return build_comment(markdown, exit_code, run_url, section)
