"""Synthesis benchmark: how long the program takes to declare its resources under Pulumi mocks.

Figures: milliseconds per resource for one region (azure-eu), for the three azure stacks one after
the other, and for a synthetic load of about 5,000 resources (several large regional platforms in
one program). Mocks answer instantly, so this is the SDK's and our components' own cost: the floor
under every `pulumi preview` and `autocloud check`.

Run with `make bench` (or `python tests/bench/bench_synthesis.py [--resources N]`); figures go to
bench/results/synthesis.json.
"""

from __future__ import annotations

import argparse
import math
import sys
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from autocloud.profiles import load_profile
from autocloud.sizing import plan_for_profile
from components.contracts import RegionalPlatformArgs
from components.platform import RegionalPlatform
from tests.bench.common import record, timed
from tests.conftest import PulumiHarness

STACKS = ("azure-eu", "azure-us", "azure-cn")
SYNTHETIC_VEHICLES = 40_000_000
"""Per synthetic platform: 40 M vehicles x 1.2 headroom = 48 scale units, about 1,050 resources."""


def _figures(resources: int, seconds: float) -> dict[str, Any]:
    return {
        "resources": resources,
        "seconds": round(seconds, 3),
        "ms_per_resource": round(1000 * seconds / max(resources, 1), 2),
    }


def one_region() -> dict[str, Any]:
    harness = PulumiHarness()
    try:
        run, seconds = timed(lambda: harness.run_program("azure-eu"))
    finally:
        harness.close()
    return _figures(len(run.mocks.resources), seconds)


def three_regions() -> dict[str, Any]:
    harness = PulumiHarness()
    total, seconds = 0, 0.0
    try:
        for stack in STACKS:
            run, took = timed(partial(harness.run_program, stack))
            total += len(run.mocks.resources)
            seconds += took
    finally:
        harness.close()
    return _figures(total, seconds)


def synthetic(target: int) -> dict[str, Any]:
    """Enough 48-scale-unit EU platforms in one program to reach about ``target`` resources."""
    profile = load_profile("eu").with_fleet(vehicles=SYNTHETIC_VEHICLES)
    plan = plan_for_profile(profile)
    per_platform = _platform_size(plan.scale_units)
    platforms = max(1, math.ceil(target / per_platform))
    harness = PulumiHarness()
    try:
        mocks = harness.start("bench-synthetic")

        def program() -> None:
            for index in range(platforms):
                RegionalPlatform(f"synthetic{index}", RegionalPlatformArgs(profile=profile, plan=plan))

        _, seconds = timed(lambda: harness.run(program))
    finally:
        harness.close()
    return _figures(len(mocks.resources), seconds) | {"platforms": platforms, "scale_units_each": plan.scale_units}


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--resources", type=int, default=5_000, help="size of the synthetic load (default 5000)")
    args = parser.parse_args(argv)
    figures = {
        "one_region": one_region(),
        "three_regions": three_regions(),
        "synthetic": synthetic(args.resources),
    }
    record("synthesis", figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
