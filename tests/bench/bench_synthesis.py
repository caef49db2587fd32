"""Synthesis benchmark: how long the program takes to declare its resources under Pulumi mocks.

Figures: milliseconds per resource for one region (azure-eu), for the three azure stacks one after
the other, and for a synthetic load of about 5,000 resources (several large regional platforms in
one program). Mocks answer instantly, so this is the SDK's and our components' own cost: the floor
under every `pulumi preview` and `autocloud check`.

Every per-resource figure is taken in a warm process (``warm_up`` records the first program, which
also loads the pulumi_azure_native modules it uses) and includes a full garbage collection after
the run, so what the harness's deferred full collections left behind is paid for here. Beside
them: ``default_collector`` (one region with the interpreter's default collection thresholds, as
before the harness deferred full collections), ``aliases`` (how many type aliases azure-native puts
on the program's resources), ``sdk_floor`` (plain resources, without and with that many aliases
each, through the same harness and mocks) and ``program_without_aliases`` (one region with the
aliases dropped by a stack transformation: a diagnostic of where the time goes, never a setting).

Run with `make bench` (or `python tests/bench/bench_synthesis.py [--resources N]`); figures go to
bench/results/synthesis.json.
"""

from __future__ import annotations

import argparse
import copy
import gc
import math
import resource
import runpy
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import pulumi

from components.contracts import RegionalPlatformArgs
from components.platform import RegionalPlatform
from platform_model.profiles import load_profile
from platform_model.sizing import plan_for_profile
from tests.bench.common import record
from tests.conftest import PROGRAM, PulumiHarness, stack_config

STACKS = ("azure-eu", "azure-us", "azure-cn")
SYNTHETIC_VEHICLES = 40_000_000
"""Per synthetic platform: 40 M vehicles x 1.2 headroom = 48 scale units, about 1,050 resources."""
TARGET_MS_PER_RESOURCE = 5.0
FLOOR_PLAIN = 2_000
FLOOR_ALIASED = 1_000


def _figures(resources: int, seconds: float, collection: float) -> dict[str, Any]:
    return {
        "resources": resources,
        "seconds": round(seconds, 3),
        "collection_seconds": round(collection, 3),
        "ms_per_resource": round(1000 * seconds / max(resources, 1), 2),
    }


def _measure(run: Callable[[], int]) -> dict[str, Any]:
    """Time ``run`` (it returns how many resources it declared) plus the full collection after it."""
    gc.collect()
    started = time.perf_counter()
    resources = run()
    collecting = time.perf_counter()
    gc.collect()
    ended = time.perf_counter()
    return _figures(resources, ended - started, ended - collecting)


def _program(stack: str, defer_full_collections: bool = True) -> int:
    harness = PulumiHarness()
    harness.defer_full_collections = defer_full_collections
    try:
        return len(harness.run_program(stack).mocks.resources)
    finally:
        harness.close()


def warm_up() -> dict[str, Any]:
    """The first program in the process: also imports the azure-native modules the components use."""
    return _measure(partial(_program, "azure-eu"))


def one_region(defer_full_collections: bool = True) -> dict[str, Any]:
    return _measure(partial(_program, "azure-eu", defer_full_collections))


def three_regions() -> dict[str, Any]:
    return _measure(lambda: sum(_program(stack) for stack in STACKS))


def synthetic(target: int) -> dict[str, Any]:
    """Enough 48-scale-unit EU platforms in one program to reach about ``target`` resources."""
    profile = load_profile("eu").with_fleet(vehicles=SYNTHETIC_VEHICLES)
    plan = plan_for_profile(profile)
    platforms = max(1, math.ceil(target / _platform_size(plan.scale_units)))

    def program() -> None:
        for index in range(platforms):
            RegionalPlatform(f"synthetic{index}", RegionalPlatformArgs(profile=profile, plan=plan))

    def run() -> int:
        harness = PulumiHarness()
        try:
            mocks = harness.start("bench-synthetic")
            harness.run(program)
            return len(mocks.resources)
        finally:
            harness.close()

    figures = _measure(run)
    # Linux reports kilobytes; the synthetic load is the largest run, so the process peak is its own.
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    return figures | {"platforms": platforms, "scale_units_each": plan.scale_units, "peak_rss_mb": peak_mb}


def _platform_size(scale_units: int) -> int:
    """Resources of one platform, measured on a one-unit and a two-unit platform (it is linear)."""
    sizes = []
    for vehicles in (1_000, 1_000_000):
        profile = load_profile("eu").with_fleet(vehicles=vehicles)
        plan = plan_for_profile(profile)
        harness = PulumiHarness()
        try:
            mocks = harness.start("bench-size")
            harness.run(partial(RegionalPlatform, "size", RegionalPlatformArgs(profile, plan)))
            sizes.append((plan.scale_units, len(mocks.resources)))
        finally:
            harness.close()
    (u1, r1), (u2, r2) = sizes
    per_unit = (r2 - r1) // max(u2 - u1, 1)
    return r1 + per_unit * (scale_units - u1)


def _with_transformation(transformation: pulumi.ResourceTransformation, stack: str) -> int:
    """Run the program for ``stack`` with a stack transformation registered before it starts."""
    harness = PulumiHarness()
    try:
        mocks = harness.start(stack, stack_config(stack))
        pulumi.runtime.register_stack_transformation(transformation)
        harness.run(lambda: runpy.run_path(str(PROGRAM), run_name="__main__"))
        return len(mocks.resources)
    finally:
        harness.close()


def alias_count(stack: str = "azure-eu") -> tuple[int, int]:
    """(custom resources, aliases they carry): azure-native gives each type one per older API version."""
    counted: list[int] = []

    def observe(args: pulumi.ResourceTransformationArgs) -> None:
        if isinstance(args.resource, pulumi.CustomResource):
            counted.append(len(args.opts.aliases or []))

    _with_transformation(observe, stack)
    return len(counted), sum(counted)


def program_without_aliases() -> dict[str, Any]:
    """Diagnostic only: one region with every alias option dropped, i.e. our components plus the
    SDK's registration path, without the per-alias URN Outputs the SDK makes in Resource.__init__."""

    def drop_aliases(args: pulumi.ResourceTransformationArgs) -> pulumi.ResourceTransformationResult | None:
        if not args.opts.aliases:
            return None
        opts = copy.copy(args.opts)
        opts.aliases = None
        return pulumi.ResourceTransformationResult(args.props, opts)

    return _measure(partial(_with_transformation, drop_aliases, "azure-eu"))


def _plain(count: int, aliases: int) -> int:
    """``count`` plain custom resources with a few inputs and ``aliases`` type aliases each."""
    options = pulumi.ResourceOptions(aliases=[pulumi.Alias(type_=f"bench:v{i}:Plain") for i in range(aliases)])

    def program() -> None:
        for index in range(count):
            pulumi.CustomResource(
                "bench:index:Plain",
                f"plain{index}",
                {"location": "westeurope", "tags": {"region": "eu"}},
                options if aliases else None,
            )

    harness = PulumiHarness()
    try:
        mocks = harness.start("bench-floor")
        harness.run(program)
        return len(mocks.resources)
    finally:
        harness.close()


def sdk_floor(aliases: int) -> dict[str, Any]:
    return {
        "plain": _measure(partial(_plain, FLOOR_PLAIN, 0)) | {"aliases_each": 0},
        "aliased": _measure(partial(_plain, FLOOR_ALIASED, aliases)) | {"aliases_each": aliases},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--resources", type=int, default=5_000, help="size of the synthetic load (default 5000)")
    args = parser.parse_args(argv)
    figures: dict[str, Any] = {"target_ms_per_resource": TARGET_MS_PER_RESOURCE, "warm_up": warm_up()}
    figures["one_region"] = one_region()
    figures["three_regions"] = three_regions()
    figures["synthetic"] = synthetic(args.resources)
    figures["default_collector"] = one_region(defer_full_collections=False)
    custom, aliases = alias_count()
    each = round(aliases / max(custom, 1))
    figures["aliases"] = {"custom_resources": custom, "aliases": aliases, "per_custom_resource": each}
    figures["sdk_floor"] = sdk_floor(each)
    figures["program_without_aliases"] = program_without_aliases()
    record("synthesis", figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
