"""The autocloud Pulumi program: stack config -> region profile -> capacity plan -> RegionalPlatform.

Config is read and validated here, once; a bad value stops the run with one line naming the stack
file and the key. Components never read config.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_azure_native as azure_native

from components.contracts import RegionalPlatformArgs, RegionalPlatformContract
from platform_model.errors import ConfigError
from platform_model.profiles import RegionProfile
from platform_model.sizing import CapacityPlan
from platform_model.stack import (
    CONFIG_NAMESPACE,
    FLEET_CA_KEY,
    LOCATION_KEY,
    STACK_CONFIG_KEYS,
    ResolvedStack,
    StackConfig,
    resolve_values,
    run_overrides,
)


def read_config() -> ResolvedStack:
    """This stack's config, profile (with fleet overrides) and plan; ConfigError on bad input."""
    values: dict[str, Any] = {}
    for key in (*STACK_CONFIG_KEYS, LOCATION_KEY):
        namespace, _, name = key.partition(":")
        values[key] = pulumi.Config(namespace).get(name)
    stack = pulumi.get_stack()
    resolved = resolve_values(stack, values, f"stacks/Pulumi.{stack}.yaml", run_overrides())
    config = resolved.config
    if config.is_local and resolved.profile.services.iothub and not config.fleet_ca_certificate:
        raise ConfigError(
            resolved.source,
            FLEET_CA_KEY,
            f"the local DPS and hubs need region {config.region}'s fleet CA: deploy with `autocloud up`, which "
            f"passes .state/fleet/{config.region}/ca.pem, or set it (`autocloud fleet ca --region {config.region}`)",
        )
    return resolved


def build(stack: StackConfig, profile: RegionProfile, plan: CapacityPlan) -> RegionalPlatformContract:
    """The platform for the stack's target. Azure China gets one explicit provider (environment
    ``china``) that every resource inherits; no public-cloud provider is created there."""
    args = RegionalPlatformArgs(
        profile=profile,
        plan=plan,
        namespace=stack.namespace,
        cluster_admins=stack.cluster_admins,
        fleet_ca_certificate=stack.fleet_ca_certificate,
        routing_staged_units=stack.routing_staged_units,
        brands=stack.brands,
    )
    if stack.target == "local":
        from components.local import LocalRegionalPlatform, kubernetes_provider

        kubernetes = kubernetes_provider(f"{CONFIG_NAMESPACE}-{profile.name}-local")
        platform: RegionalPlatformContract = LocalRegionalPlatform(
            profile.name, args, pulumi.ResourceOptions(providers=[kubernetes])
        )
        return platform
    from components.platform import RegionalPlatform

    opts = None
    if profile.cloud == "china":
        provider = azure_native.Provider(
            f"{CONFIG_NAMESPACE}-{profile.name}-china",
            environment=profile.provider_environment,
            location=profile.primary,
        )
        opts = pulumi.ResourceOptions(providers=[provider])
    return RegionalPlatform(profile.name, args, opts)


def main() -> None:
    try:
        resolved = read_config()
    except ConfigError as exc:
        raise pulumi.RunError(str(exc)) from None
    stack, profile, plan = resolved.config, resolved.profile, resolved.plan
    platform = build(stack, profile, plan)
    pulumi.export("region", profile.name)
    pulumi.export("target", stack.target)
    pulumi.export("cloud", profile.cloud)
    pulumi.export("location", platform.location)
    pulumi.export("boundary", list(profile.boundary))
    pulumi.export("scale_units", platform.scale_units)
    pulumi.export("platform", {"name": platform.name, "resource_id": platform.resource_id})
    pulumi.export("endpoints", platform.endpoints)


if __name__ == "__main__":
    main()
