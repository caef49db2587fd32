"""Reading engine props safely.

Props arrive as plain dicts from `check` and as pulumi_policy's unknown-checking proxies (Mapping and
Sequence subclasses, not dict and list) from the packs, so helpers test against the abstract types.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from policies.model import UnknownValue, is_unknown

_MISSING = object()


def get(props: Mapping[str, Any], path: str, default: Any = None) -> Any:
    """The value at a dotted path (``properties.routing.endpoints``), or ``default`` if any part is
    absent or not an object. A value `autocloud check` could not know raises `UnknownValue`, as
    pulumi-policy's proxy raises on one in a pack: unknown is never read as "not set" (the evaluator
    reports it as "cannot verify"; the location rules ask `policies.facts.azure.Locations`)."""
    current: Any = props
    for part in path.split("."):
        if is_unknown(current):
            raise UnknownValue(path)
        if not isinstance(current, Mapping):
            return default
        current = current.get(part, _MISSING)
        if current is _MISSING:
            return default
    if is_unknown(current):
        raise UnknownValue(path)
    return default if current is None else current


def known(props: Mapping[str, Any], path: str, default: Any = None) -> Any:
    """As `get`, but a value nobody knows yet reads as ``default``: for indexes and names (a
    resource whose name is unknown matches no reference), never for judging a value."""
    try:
        return get(props, path, default)
    except UnknownValue:
        return default


def unknown_at(props: Mapping[str, Any], path: str) -> bool:
    """Whether the value at a dotted path is one only deployment will know: `autocloud check` spells it
    with `policies.model.UNKNOWN_PREFIX`, and in a pack pulumi-policy's proxy raises its
    ``UnknownValueError`` on access (matched by name: the check loads no pulumi-policy). An absent
    value is not unknown."""
    current: Any = props
    try:
        for part in path.split("."):
            if not isinstance(current, Mapping):
                return False
            current = current.get(part)
    except Exception as error:
        if type(error).__name__ == "UnknownValueError" and type(error).__module__.startswith("pulumi_policy"):
            return True
        raise
    return is_unknown(current)


def items(value: Any) -> Sequence[Any]:
    """A list property as a sequence; absent or malformed is empty."""
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return value
    return ()


def mappings(value: Any) -> Iterator[Mapping[str, Any]]:
    """The object elements of a list property."""
    for element in items(value):
        if isinstance(element, Mapping):
            yield element


def show(value: Any) -> str:
    """A value as messages quote it; absent reads as 'not set', and a whole float (JSON numbers
    arrive as floats) as an integer."""
    if value is None:
        return "not set"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return repr(value)
