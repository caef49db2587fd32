"""The autocloud Pulumi program: stack config -> region profile -> capacity plan -> RegionalPlatform.

Config is read and validated here, once; a bad value stops the run with one line naming the stack
file and the key. Components never read config.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_azure_native as azure_native

from autocloud.domain.errors import ConfigError
from autocloud.domain.profiles import (
    CONFIG_NAMESPACE,
    LOCATION_KEY,
    STACK_CONFIG_KEYS,
    RegionProfile,
    StackConfig,
    profile_for_stack,
    stack_config_from_values,
)
from autocloud.domain.sizing import CapacityPlan, plan_for_stack
from autocloud.domain.stack import run_overrides
from components.contracts import RegionalPlatformArgs, RegionalPlatformContract


def read_config() -> tuple[StackConfig, RegionProfile, CapacityPlan]:
    """This stack's config, profile (with fleet overrides) and plan; ConfigError on bad input."""
    source = f"stacks/Pulumi.{pulumi.get_stack()}.yaml"
    values: dict[str, Any] = {}
    for key in (*STACK_CONFIG_KEYS, LOCATION_KEY):
        namespace, _, name = key.partition(":")
        values[key] = pulumi.Config(namespace).get(name)
    overrides = run_overrides()
    if overrides:
        values |= overrides
        source = f"{source} (with rollout overrides {', '.join(sorted(overrides))})"
    stack = stack_config_from_values(values, source)
    profile = profile_for_stack(stack, source)
    return stack, profile, plan_for_stack(stack, profile, source)


def build(stack: StackConfig, profile: RegionProfile, plan: CapacityPlan) -> RegionalPlatformContract:
    """The platform for the stack's target. Azure China gets one explicit provider (environment
    ``china``) that every resource inherits; no public-cloud provider is created there."""
    args = RegionalPlatformArgs(
        profile=profile,
        plan=plan,
        namespace=stack.namespace,
        cluster_admins=stack.cluster_admins,
        fleet_ca_certificate=stack.fleet_ca_certificate,
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
        stack, profile, plan = read_config()
    except ConfigError as exc:
        raise pulumi.RunError(str(exc)) from None
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
