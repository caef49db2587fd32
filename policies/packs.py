"""Which rules each policy pack serves: every module under ``policies/rules/<pack>/``, each exposing
``RULE`` named ``<pack>-<module name with dashes>``, so a new rule is one file (and its test) and
its id can be found from its file. The packs' ``__main__.py`` and ``autocloud check`` both read this."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Mapping

from policies.model import PACKS, Pack, ResourceRule, Rule, StackRule


def rule_name(pack: Pack, module: str) -> str:
    """The id a rule module must register: ``rules/residency/maps_allowed.py`` -> ``residency-maps-allowed``."""
    return f"{pack}-{module.replace('_', '-')}"


def discover(pack: Pack, package_name: str) -> tuple[Rule, ...]:
    """The rules of ``package_name``'s modules in file-name order; a module whose ``RULE`` is missing
    or misnamed stops the import, so a rule cannot ship under an id nobody can find its file by."""
    package = importlib.import_module(package_name)
    rules: list[Rule] = []
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda info: info.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        rule = getattr(module, "RULE", None)
        if not isinstance(rule, ResourceRule | StackRule):
            raise TypeError(f"{module.__name__} defines no RULE")
        expected = rule_name(pack, info.name)
        if rule.name != expected:
            raise ValueError(f"{module.__name__} registers {rule.name!r}; its file name makes it {expected!r}")
        rules.append(rule)
    return tuple(rules)


PACK_RULES: Mapping[Pack, tuple[Rule, ...]] = {pack: discover(pack, f"policies.rules.{pack}") for pack in PACKS}

RESIDENCY = PACK_RULES["residency"]
BASELINE = PACK_RULES["baseline"]
KUBERNETES = PACK_RULES["kubernetes"]
DEPLOYABILITY = PACK_RULES["deployability"]

#: The PolicyPack name each pack registers with the engine.
PACK_NAMES: Mapping[Pack, str] = {pack: f"autocloud-{pack}" for pack in PACK_RULES}

ALL_RULES: tuple[Rule, ...] = tuple(rule for rules in PACK_RULES.values() for rule in rules)

RELAXABLE: frozenset[str] = frozenset(rule.name for rule in ALL_RULES if rule.relaxable)
