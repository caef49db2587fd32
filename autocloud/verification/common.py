"""What `autocloud check` and `autocloud report` share, each built here once: the evaluator of every
pack's rules (with the map naming each rule's pack), the threads that run their targets, and the
Jinja environment with its filters."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import MappingProxyType
from typing import TypeVar

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from policies.engine import Evaluator
from policies.model import Violation
from policies.packs import ALL_RULES, PACK_RULES

TEMPLATES = Path(__file__).resolve().parent / "templates"

PACK_OF: Mapping[str, str] = MappingProxyType({rule.name: pack for pack, rules in PACK_RULES.items() for rule in rules})
"""Rule name -> the pack that serves it, as results name it."""

T = TypeVar("T")
R = TypeVar("R")


@functools.cache
def all_packs() -> Evaluator:
    """Every pack's rules, prepared once; evaluating is read-only, so threads share it."""
    return Evaluator(ALL_RULES, PACK_OF)


def map_targets(run: Callable[[T], R], targets: Sequence[T]) -> list[R]:
    """``run`` over ``targets`` in order, at most one thread per CPU: each target's program runs in a
    process of its own, so the threads mostly wait for it."""
    workers = max(1, min(len(targets), os.cpu_count() or 1))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(run, targets))


def md_cell(value: object) -> str:
    """A Markdown table cell: one line, pipes escaped."""
    return " ".join(str(value).split()).replace("|", "\\|")


def detail(violation: Violation) -> str:
    """What is wrong, without the rule and resource the table already shows."""
    return violation.detail or violation.message


def short_type(type_: str) -> str:
    """`azure-native:iothub:IotHubResource` -> `iothub:IotHubResource`, for narrow tables."""
    return type_.split(":", 1)[1] if type_.count(":") >= 2 else type_


@functools.cache
def templates() -> Environment:
    """The templates under templates/ (`check.md.j2`, `report/...`): autoescape on for HTML, off for
    Markdown, and an undefined name is an error rather than an empty cell."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(enabled_extensions=("html", "html.j2"), default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(md_cell=md_cell, detail=detail, short_type=short_type)
    return env
