"""Which scale unit a vehicle belongs to: a stable hash of its id, as DPS's hashed allocation does.

DPS's "evenly weighted distribution" policy hashes the device's registration id to pick one of the
linked IoT hubs, so a vehicle always lands on the same hub while the set of hubs is unchanged
(learn.microsoft.com/azure/iot-dps/how-to-use-allocation-policies). The local target does the same
with its scale units, so a simulated vehicle finds its broker without asking anyone.
"""

from __future__ import annotations

import hashlib


def scale_unit_for(vehicle_id: str, units: int) -> int:
    """The 1-based scale unit of ``vehicle_id`` among ``units`` (uniform, stable across runs)."""
    if units < 1:
        raise ValueError(f"units must be at least 1, not {units}")
    digest = hashlib.sha256(vehicle_id.encode()).digest()
    return int.from_bytes(digest[:8], "big") % units + 1
