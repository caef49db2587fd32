"""Synthesising a Pulumi program without CPython's full garbage collections.

A Pulumi Python program declares every resource before the SDK resolves any of them, so the whole
graph is alive at once: about 2,400 collector-tracked objects per azure-native resource (Outputs,
tasks, futures, closures), most of them for the URNs the SDK builds from the provider's
per-API-version type aliases. Each full (oldest-generation) collection walks all of it while
little of it is garbage yet; on the synthesis benchmark those walks were more than half of the
run (bench/results/synthesis.json: ``default_collector``). The young generations keep being
collected, so the short-lived cycles the SDK makes on every Output (asyncio tasks, self-referencing
closures) are still reclaimed as they go and memory stays where it was; what dies in the old
generation waits for the first full collection after the block.

Used where we own the process and the run is bounded: the test harness and ``autocloud check``'s
runner. Nothing about the program's behaviour depends on when the collector runs.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

_NEVER = 2**31 - 1
"""Largest threshold CPython accepts: a full collection would need that many young collections."""


@contextmanager
def full_collections_deferred() -> Iterator[None]:
    """Run the block with full collections held off, then restore the thresholds (nesting is fine)."""
    young, middle, old = gc.get_threshold()
    gc.set_threshold(young, middle, _NEVER)
    try:
        yield
    finally:
        gc.set_threshold(young, middle, old)
