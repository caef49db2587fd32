"""residency-provider-environment (stack rule over every Azure provider, explicit or default)."""

from __future__ import annotations

from typing import Any

from policies.model import ProviderView, ResourceView, RuleContext
from policies.rules.residency.provider_environment import RULE
from policies.testing import DELETE, changed, details, judge

PROVIDER = "pulumi:providers:azure-native"
CHINA = {"environment": "china", "location": "chinanorth3"}


def provider_view(props: dict[str, Any], name: str = "china") -> ProviderView:
    return ProviderView(PROVIDER, name, f"urn:pulumi:check::autocloud::{PROVIDER}::{name}", props)


def stack(props: dict[str, Any]) -> list[ResourceView]:
    provider = provider_view(props)
    return [
        ResourceView(PROVIDER, provider.name, provider.urn, provider.props),
        ResourceView.of("azure-native:resources:ResourceGroup", {"location": "chinanorth3"}, provider=provider),
    ]


def test_accepts_china_provider_in_china(cn: RuleContext) -> None:
    assert judge(RULE, stack(CHINA), cn) == []


def test_accepts_public_provider_in_public_cloud(eu: RuleContext) -> None:
    assert judge(RULE, stack({"environment": "public"}), eu) == []


def test_refuses_public_provider_in_china(cn: RuleContext) -> None:
    found = judge(RULE, stack(changed(CHINA, "environment", "public")), cn)
    assert len(found) == 1, "the provider is reported once, not once per resource using it"
    assert found[0].urn.endswith("::china")
    assert "environment 'public'" in found[0].message and "allowed: 'china'" in found[0].message


def test_refuses_missing_environment_in_china(cn: RuleContext) -> None:
    assert "environment not set (so 'public')" in details(RULE, stack(changed(CHINA, "environment", DELETE)), cn)[0]


def test_refuses_public_metadata_host_in_china(cn: RuleContext) -> None:
    found = details(RULE, stack(changed(CHINA, "metadataHost", "management.azure.com")), cn)
    assert "metadataHost 'management.azure.com'" in found[0]


def test_refuses_default_provider_seen_only_through_resources(cn: RuleContext) -> None:
    default = provider_view({}, name="default_3_29_0")
    resources = [ResourceView.of("azure-native:resources:ResourceGroup", {"location": "chinanorth3"}, provider=default)]
    found = judge(RULE, resources, cn)
    assert [v.urn for v in found] == [default.urn]


def test_refuses_classic_azure_provider_in_china(cn: RuleContext) -> None:
    classic = ResourceView.of("pulumi:providers:azure", {"environment": "public"}, name="classic")
    assert len(judge(RULE, classic, cn)) == 1


def test_refuses_china_provider_in_public_cloud(eu: RuleContext) -> None:
    assert len(judge(RULE, stack(CHINA), eu)) == 1
