"""The pulumi-policy wrappers, called in-process the way the analyzer servicer calls them."""

from __future__ import annotations

from typing import Any

import pytest
from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyProviderResource,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError, unknown_checking_proxy

from policies.adapters import build_policies, resource_policy, stack_policy, to_policy
from policies.model import RuleContext
from policies.packs import ALL_RULES, RESIDENCY
from policies.rules.baseline import required_tags
from policies.rules.residency import provider_environment, resource_location

OPTIONS = PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [])


def _validate_resource(policy: Any, type_: str, props: dict[str, Any], config: dict[str, Any]) -> list[str]:
    reports: list[str] = []
    args = ResourceValidationArgs(
        type_, unknown_checking_proxy(props), f"urn:pulumi:t::p::{type_}::r", "r", OPTIONS, None, config
    )
    policy.validate(args, lambda message, urn=None: reports.append(message))
    return reports


def test_builds_one_policy_per_rule_of_the_right_kind() -> None:
    policies = build_policies(ALL_RULES)
    assert [p.name for p in policies] == [r.name for r in ALL_RULES]
    assert isinstance(to_policy(required_tags.RULE), ResourceValidationPolicy)
    assert isinstance(to_policy(provider_environment.RULE), StackValidationPolicy)
    assert isinstance(to_policy(resource_location.RULE), StackValidationPolicy)
    assert len(build_policies(RESIDENCY)) == len(RESIDENCY)


def test_resource_policy_reports_with_the_shared_message(eu: RuleContext) -> None:
    policy = resource_policy(required_tags.RULE)
    props = {"location": "westeurope", "tags": {"region": "eu", "data-residency": "eu"}}
    reports = _validate_resource(policy, "azure-native:resources:ResourceGroup", props, eu.to_config())
    assert reports == [
        "[baseline-required-tags] r (azure-native:resources:ResourceGroup): tags 'data-classification' is not set "
        "(allowed: data-residency='eu', region='eu', data-classification=<any>)"
    ]


def test_resource_policy_lets_unknown_values_reach_the_engine(eu: RuleContext) -> None:
    policy = resource_policy(required_tags.RULE)
    unknown = {"location": "westeurope", "tags": "04da6b54-80e4-46f7-96ec-b56ff0331ba9"}
    with pytest.raises(UnknownValueError):
        _validate_resource(policy, "azure-native:resources:ResourceGroup", unknown, eu.to_config())


def test_resource_policy_without_config_reports_it() -> None:
    policy = resource_policy(required_tags.RULE)
    reports = _validate_resource(policy, "azure-native:resources:ResourceGroup", {"location": "westeurope"}, {})
    assert reports and "policy config 'region' is missing" in reports[0]


def test_stack_policy_sees_providers_and_reports_their_urn(cn: RuleContext) -> None:
    policy = stack_policy(provider_environment.RULE)
    provider = PolicyProviderResource(
        "pulumi:providers:azure-native",
        {"environment": "public"},
        "urn:pulumi:t::p::pulumi:providers:azure-native::default",
        "default",
    )
    type_ = "azure-native:resources:ResourceGroup"
    urn = f"urn:pulumi:t::p::{type_}::rg"
    group = PolicyResource(type_, {"location": "chinanorth3"}, urn, "rg", OPTIONS, provider, None, [], {})
    reports: list[tuple[str, str | None]] = []

    def report(message: str, urn: str | None = None) -> None:
        reports.append((message, urn))

    policy.validate(StackValidationArgs([group], cn.to_config()), report)
    assert len(reports) == 1
    message, reported = reports[0]
    assert reported == provider.urn
    assert message.startswith("[residency-provider-environment] default (pulumi:providers:azure-native): ")
