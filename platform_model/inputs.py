"""The one way user input files are read: bounded in size, strict UTF-8, YAML without aliases.

Region profiles, stack files, rollout files, Pulumi.yaml and the region catalog all come through
here, so a hostile or broken file costs at most ``MAX_INPUT_BYTES`` of memory and one line naming it:
a 361-byte profile of nested YAML aliases once expanded to gigabytes before validation saw it.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import ComposerError
from yaml.events import AliasEvent, CollectionStartEvent, ScalarEvent
from yaml.nodes import Node

from platform_model.errors import ConfigError, one_line

MAX_INPUT_BYTES = 1024 * 1024
"""The largest input file read (1 MiB); the shipped ones are under 20 KiB."""


def read_text(path: Path, label: str | None = None, limit: int = MAX_INPUT_BYTES) -> str:
    """The file's text; ConfigError naming ``label`` (default the path) when it is missing, not a
    regular file, larger than ``limit`` bytes or not UTF-8."""
    name = label or str(path)
    try:
        # Non-blocking, so a FIFO named as input is refused rather than waited on.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        raise ConfigError(name, "", "file not found") from None
    except OSError as exc:
        raise ConfigError(name, "", f"cannot read: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        mode = info.st_mode
        if stat.S_ISDIR(mode):
            raise ConfigError(name, "", "is a directory, not a file")
        if not stat.S_ISREG(mode):
            raise ConfigError(name, "", "is not a regular file")
        with os.fdopen(fd, "rb", closefd=False) as handle:
            raw = handle.read(limit + 1)
    except OSError as exc:
        raise ConfigError(name, "", f"cannot read: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    if len(raw) > limit:
        size = max(info.st_size, len(raw))
        raise ConfigError(name, "", f"{size:,} bytes, over the {limit:,}-byte limit for an input file")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ConfigError(name, "", f"not UTF-8 text (byte 0x{raw[exc.start]:02x} on line {line})") from None


class _AliasRefused(ComposerError):
    """An anchor or alias met while composing."""


class _NoAliasLoader(yaml.SafeLoader):
    """PyYAML's safe loader refusing anchors and aliases while composing, before any object exists:
    no input of ours needs them, and each alias can double what the loader builds."""

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        anchor = event.anchor if isinstance(event, (AliasEvent, ScalarEvent, CollectionStartEvent)) else None
        if anchor is not None:
            raise _AliasRefused(None, None, anchor, event.start_mark)
        return super().compose_node(parent, index)


def parse_yaml(text: str, label: str) -> Any:
    """YAML text as plain data; ConfigError naming ``label`` (and the line) when it is not valid,
    uses anchors or aliases, or nests too deeply."""
    try:
        return yaml.load(text, Loader=_NoAliasLoader)
    except _AliasRefused as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark is not None else 0
        raise ConfigError(
            label, "", f"line {line}: YAML anchors and aliases are not accepted (&{one_line(str(exc.problem), 40)})"
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "syntax error"
        raise ConfigError(label, "", f"not valid YAML{where}: {problem}") from None
    except RecursionError:
        raise ConfigError(label, "", "not valid YAML: nested too deeply") from None
    except ValueError as exc:
        # e.g. an integer of more digits than Python converts (sys.get_int_max_str_digits)
        raise ConfigError(label, "", f"not valid YAML: {exc}") from None


def load_yaml(path: Path, label: str | None = None, limit: int = MAX_INPUT_BYTES) -> Any:
    """Read (bounded) and parse a YAML file; every problem is one ConfigError naming ``label``."""
    name = label or str(path)
    return parse_yaml(read_text(path, name, limit), name)


def load_mapping(path: Path, label: str | None = None) -> dict[str, Any]:
    """A YAML file whose top level is a mapping of keys (an empty file is an empty mapping):
    region profiles, stack files, Pulumi.yaml."""
    name = label or str(path)
    data = load_yaml(path, name)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(name, "", "expected a mapping of keys at the top level")
    return data
