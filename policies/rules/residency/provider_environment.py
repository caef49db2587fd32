"""Azure China stacks deploy through a China provider, and no public-cloud Azure provider exists there.

Azure China is a separate cloud with its own endpoints: a provider left on the public environment
would create the resources in the public cloud, outside China. Every Azure provider of the stack is
checked: explicit ones, and the default provider resources carry (their props come from the stack's
`azure-native:environment` config). `metadataHost` overrides `environment`, so it must point at
Azure China's management endpoint too. Public-cloud stacks must not use a China provider either.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from platform_model.locations import PROVIDER_ENVIRONMENT
from policies.facts.azure import AZURE_PROVIDERS
from policies.facts.props import get, show
from policies.model import ProviderView, ResourceView, RuleContext, StackRule

_CHINA_METADATA_SUFFIX = "chinacloudapi.cn"


def _providers(resources: Sequence[ResourceView]) -> dict[str, ProviderView]:
    found: dict[str, ProviderView] = {}
    for view in resources:
        if view.type in AZURE_PROVIDERS:
            found.setdefault(view.urn, ProviderView(view.type, view.name, view.urn, view.props))
        elif view.provider is not None and view.provider.type in AZURE_PROVIDERS:
            found.setdefault(view.provider.urn, view.provider)
    return found


def _problems(provider: ProviderView, ctx: RuleContext) -> Iterator[str]:
    expected = PROVIDER_ENVIRONMENT[ctx.cloud]
    environment = get(provider.props, "environment")
    actual = environment.lower() if isinstance(environment, str) and environment else "public"
    if actual != expected:
        shown = show(environment) if environment else "not set (so 'public')"
        yield (
            f"provider '{provider.name}' has environment {shown} but region {ctx.region} is on the "
            f"{ctx.cloud} cloud (allowed: '{expected}')"
        )
    host = get(provider.props, "metadataHost")
    if (
        isinstance(host, str)
        and host
        and (host.lower().rstrip("/").endswith(_CHINA_METADATA_SUFFIX)) != (ctx.cloud == "china")
    ):
        yield (
            f"provider '{provider.name}' has metadataHost '{host}', which overrides environment and targets "
            f"another cloud than {ctx.cloud} (allowed: unset)"
        )


def validate(resources: Sequence[ResourceView], ctx: RuleContext) -> Iterator[tuple[str, str]]:
    for urn, provider in _providers(resources).items():
        for problem in _problems(provider, ctx):
            yield urn, problem


RULE = StackRule(
    name="residency-provider-environment",
    description="Azure China stacks use only Azure providers with environment 'china' (and public-cloud stacks none).",
    remediation="Create the azure-native Provider once in the program with environment='china' for China "
    "regions and pass it down through opts, or set `azure-native:environment: china` in the stack config.",
    validate=validate,
)
