"""Wrapping plain rules into pulumi-policy policies.

The packs' `__main__.py` call `build_policies` and hand the result to `PolicyPack`. Every policy
reads the region from its policy config (the JSON `policies.config` writes); the schema marks the
region keys required, so the CLI refuses to run a pack that was given no region rather than let it
pass everything.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyConfigSchema,
    PolicyProviderResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from policies.model import (
    ProviderView,
    ResourceRule,
    ResourceView,
    Rule,
    RuleContext,
    StackRule,
    canonical_type,
    format_message,
    urn_type_and_name,
)

_STRINGS = {"type": "array", "items": {"type": "string"}}

#: The JSON schema of `RuleContext.to_config()`, attached to every policy.
CONFIG_SCHEMA_PROPERTIES: dict[str, dict[str, Any]] = {
    "region": {"type": "string", "description": "Region profile name, e.g. eu."},
    "cloud": {"type": "string", "enum": ["public", "china"]},
    "boundary": {**_STRINGS, "minItems": 1, "description": "Allowed Azure locations."},
    "mapsAllowed": {"type": "boolean"},
    "iotDataResidency": {"type": "boolean"},
    "requiredTags": {"type": "object", "additionalProperties": {"type": "string"}},
    "requiredTagKeys": _STRINGS,
    "relaxed": {**_STRINGS, "description": "Baseline rules this stack runs as advisory."},
    "knownRegions": _STRINGS,
    "regionLabel": {"type": "string"},
    "deviceAccess": {"type": "string", "enum": ["public", "private"]},
    "jurisdiction": {"type": "string", "description": "The jurisdiction the region serves, e.g. eu-eea."},
}
CONFIG_REQUIRED = ["region", "cloud", "boundary"]

_ENFORCEMENT = {"mandatory": EnforcementLevel.MANDATORY, "advisory": EnforcementLevel.ADVISORY}


@lru_cache(maxsize=64)
def _parse_context(config_json: str) -> RuleContext:
    return RuleContext.from_config(json.loads(config_json))


def context_from_policy_config(config: Mapping[str, Any]) -> RuleContext:
    """The RuleContext for a policy's config; parsed once per distinct config, since the engine
    calls every policy once per resource."""
    return _parse_context(json.dumps(dict(config), sort_keys=True, default=str))


def _context_or_report(config: Mapping[str, Any], report: ReportViolation) -> RuleContext | None:
    try:
        return context_from_policy_config(config)
    except ValueError as error:
        report(f"{error}: pass --policy-pack-config (autocloud policy-config --region <name>)", None)
        return None


def _provider_view(provider: PolicyProviderResource | None) -> ProviderView | None:
    if provider is None:
        return None
    return ProviderView(provider.resource_type, provider.name, provider.urn, provider.props)


def resource_policy(rule: ResourceRule) -> ResourceValidationPolicy:
    types = rule.resource_types

    def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
        type_ = canonical_type(args.resource_type)
        if types and type_ not in types:
            return
        ctx = _context_or_report(args.get_config(), report)
        if ctx is None:
            return
        view = ResourceView(type_, args.name, args.urn, args.props, _provider_view(args.provider))
        for detail in rule.validate(view, ctx):
            report(format_message(rule.name, args.name, type_, detail), None)

    return ResourceValidationPolicy(
        name=rule.name,
        description=rule.description,
        validate=validate,
        enforcement_level=_ENFORCEMENT[rule.enforcement],
        config_schema=PolicyConfigSchema(CONFIG_SCHEMA_PROPERTIES, CONFIG_REQUIRED),
        remediation_steps=rule.remediation,
    )


def stack_policy(rule: StackRule) -> StackValidationPolicy:
    def validate(args: StackValidationArgs, report: ReportViolation) -> None:
        ctx = _context_or_report(args.get_config(), report)
        if ctx is None:
            return
        views = [
            ResourceView(canonical_type(r.resource_type), r.name, r.urn, r.props, _provider_view(r.provider))
            for r in args.resources
        ]
        by_urn = {view.urn: view for view in views}
        for urn, detail in rule.validate(views, ctx):
            view = by_urn.get(urn)
            type_, name = (view.type, view.name) if view is not None else urn_type_and_name(urn)
            report(format_message(rule.name, name, type_, detail), urn)

    return StackValidationPolicy(
        name=rule.name,
        description=rule.description,
        validate=validate,
        enforcement_level=_ENFORCEMENT[rule.enforcement],
        config_schema=PolicyConfigSchema(CONFIG_SCHEMA_PROPERTIES, CONFIG_REQUIRED),
        remediation_steps=rule.remediation,
    )


def to_policy(rule: Rule) -> Policy:
    return stack_policy(rule) if isinstance(rule, StackRule) else resource_policy(rule)


def build_policies(rules: Iterable[Rule]) -> list[Policy]:
    """The pulumi-policy policies for a pack's rules, in order."""
    return [to_policy(rule) for rule in rules]
