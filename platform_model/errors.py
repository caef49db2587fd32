"""The toolkit's expected failures, each printed by the CLI as one line with its exit code.

:class:`ConfigError` is every bad input, naming the file and the key; its text is bounded, so a
huge or hostile value never reaches the terminal whole.
"""

from __future__ import annotations

import reprlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

from pydantic import BaseModel, ValidationError

#: The pydantic error type our own validators raise; its context carries the dotted key.
KEYED_ERROR_TYPE = "autocloud_config"

EXIT_FAILED = 1
"""Exit code of an operation that ran and failed."""
EXIT_BAD_INPUT = 2
"""Exit code of bad input (a file, an argument, an environment variable); nothing was changed."""
EXIT_INTERRUPTED = 130
"""Exit code after Ctrl-C (128 + SIGINT), as shells report it."""

EXCERPT_CHARS = 80
"""How much of a user's value an error message echoes."""
MAX_KEY_CHARS = 120
MAX_MESSAGE_CHARS = 600
"""An error line's message is cut here: long enough for an "allowed: ..." list, never a whole file."""

_REPR = reprlib.Repr()
_REPR.maxlevel = 2
_REPR.maxdict = _REPR.maxlist = _REPR.maxtuple = _REPR.maxset = 4
_REPR.maxstring = _REPR.maxother = _REPR.maxlong = EXCERPT_CHARS


def excerpt(value: object, limit: int = EXCERPT_CHARS) -> str:
    """``repr(value)`` cut to ``limit`` characters, built without rendering all of a large value."""
    return one_line(_REPR.repr(value), limit)


def one_line(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """``text`` with its whitespace runs (newlines too) as single spaces, cut to ``limit``."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


class AutocloudError(Exception):
    """An expected failure: the CLI prints ``error: <message>`` and exits with ``exit_code``."""

    exit_code: ClassVar[int] = EXIT_FAILED


class InputError(AutocloudError):
    """Bad input not read from a file (an argument, an environment variable): exit 2."""

    exit_code: ClassVar[int] = EXIT_BAD_INPUT


class ConfigError(InputError):
    """Bad configuration: which file, which key, what is wrong (and what is allowed).

    ``str(error)`` is one line, e.g.
    ``regions/cn.yaml: services.maps: Azure Maps is not offered in Azure China``, so CLIs and the
    Pulumi program can print it without a traceback.
    """

    def __init__(self, file: str, key: str, message: str) -> None:
        self.file = one_line(file, MAX_KEY_CHARS * 2)
        self.key = one_line(key, MAX_KEY_CHARS)
        self.message = one_line(message)
        super().__init__(str(self))

    def __str__(self) -> str:
        return ": ".join(part for part in (self.file, self.key, self.message) if part)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.file, self.key, self.message))

    def in_file(self, file: str) -> ConfigError:
        """The same error attributed to ``file`` (validators do not know which file they read)."""
        return ConfigError(file, self.key, self.message)


def dotted_key(loc: Sequence[int | str]) -> str:
    """``('residency', 'boundary', 2)`` -> ``residency.boundary[2]``, the way a user finds it in YAML."""
    key = ""
    for part in loc:
        if isinstance(part, int):
            key += f"[{part}]"
        else:
            key = f"{key}.{part}" if key else str(part)
    return key


def _allowed_keys(model: type[BaseModel], loc: Sequence[int | str]) -> list[str]:
    """The keys a model accepts where ``loc`` points: shown next to an unknown key so the fix is obvious."""
    current: Any = model
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        fields = getattr(current, "model_fields", None)
        if not fields or part not in fields:
            return []
        current = fields[part].annotation
    fields = getattr(current, "model_fields", None) or {}
    return [field.alias or name for name, field in fields.items()]


def from_validation_error(
    file: str,
    error: ValidationError,
    model: type[BaseModel] | None = None,
    key_style: Callable[[str], str] | None = None,
) -> ConfigError:
    """The first pydantic error as a ConfigError with the dotted key path.

    ``model`` (the class validated) lets an unknown key list the allowed ones; ``key_style`` maps a
    top-level field name back to how the user spells it (stack config keys are ``autocloud:camelCase``);
    nested keys (``autocloud:brands[0].name``) are spelt as the model reads them.
    """
    first: Mapping[str, Any] = error.errors(include_url=False)[0]
    loc: tuple[int | str, ...] = tuple(first.get("loc", ()))
    kind = first.get("type", "")
    if kind == KEYED_ERROR_TYPE:
        ctx: Mapping[str, Any] = first.get("ctx") or {}
        return ConfigError(file, str(ctx["key"]), str(ctx["message"]))
    key = dotted_key([key_style(p) if key_style and i == 0 and isinstance(p, str) else p for i, p in enumerate(loc)])
    if kind == "extra_forbidden":
        allowed = _allowed_keys(model, loc) if model is not None else []
        hint = f" (allowed: {', '.join(allowed)})" if allowed else ""
        return ConfigError(file, key, f"unknown key{hint}")
    if kind == "missing":
        return ConfigError(file, key, "required key is missing")
    return ConfigError(file, key, f"{first.get('msg', 'invalid value')} (got {excerpt(first.get('input'))})")
