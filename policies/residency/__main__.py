"""The autocloud-residency policy pack (serves until the engine stops it; the rules live in policies.rules)."""

from pulumi_policy import EnforcementLevel, PolicyPack

from policies.adapters import build_policies
from policies.packs import PACK_NAMES, RESIDENCY

PolicyPack(
    name=PACK_NAMES["residency"],
    policies=build_policies(RESIDENCY),
    enforcement_level=EnforcementLevel.MANDATORY,
)
