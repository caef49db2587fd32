"""Reading engine props safely.

Props arrive as plain dicts from `check` and as pulumi_policy's unknown-checking proxies (Mapping and
Sequence subclasses, not dict and list) from the packs, so helpers test against the abstract types.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from policies.model import is_unknown

_MISSING = object()


def get(props: Mapping[str, Any], path: str, default: Any = None) -> Any:
    """The value at a dotted path (``properties.routing.endpoints``), or ``default`` if any part is
    absent, not an object, or a value `autocloud check` could not know (rules treat it as unset;
    the location rules ask `policies.facts.azure.Locations`, which tells the two apart)."""
    current: Any = props
    for part in path.split("."):
        if not isinstance(current, Mapping):
            return default
        current = current.get(part, _MISSING)
        if current is _MISSING:
            return default
    return default if current is None or is_unknown(current) else current


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
