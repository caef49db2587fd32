"""One error type for every bad input, printed as a single line naming the file and the key."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ValidationError

#: The pydantic error type our own validators raise; its context carries the dotted key.
KEYED_ERROR_TYPE = "autocloud_config"


class ConfigError(Exception):
    """Bad configuration: which file, which key, what is wrong (and what is allowed).

    ``str(error)`` is one line, e.g.
    ``regions/cn.yaml: services.maps: Azure Maps is not offered in Azure China``, so CLIs and the
    Pulumi program can print it without a traceback.
    """

    def __init__(self, file: str, key: str, message: str) -> None:
        self.file = file
        self.key = key
        self.message = message
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
    field name back to how the user spells it (stack config keys are ``autocloud:camelCase``).
    """
    first: Mapping[str, Any] = error.errors(include_url=False)[0]
    loc: tuple[int | str, ...] = tuple(first.get("loc", ()))
    kind = first.get("type", "")
    if kind == KEYED_ERROR_TYPE:
        ctx: Mapping[str, Any] = first.get("ctx") or {}
        return ConfigError(file, str(ctx["key"]), str(ctx["message"]))
    key = dotted_key([key_style(p) if key_style and isinstance(p, str) else p for p in loc])
    if kind == "extra_forbidden":
        allowed = _allowed_keys(model, loc) if model is not None else []
        hint = f" (allowed: {', '.join(allowed)})" if allowed else ""
        return ConfigError(file, key, f"unknown key{hint}")
    if kind == "missing":
        return ConfigError(file, key, "required key is missing")
    return ConfigError(file, key, f"{first.get('msg', 'invalid value')} (got {first.get('input')!r})")
