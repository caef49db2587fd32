"""The autocloud-baseline policy pack (serves until the engine stops it; the rules live in policies.rules).

A stack relaxes a rule to advisory through its policy config (autocloud policy-config --relax RULE).
"""

from pulumi_policy import EnforcementLevel, PolicyPack

from policies.adapters import build_policies
from policies.packs import BASELINE, PACK_NAMES

PolicyPack(
    name=PACK_NAMES["baseline"],
    policies=build_policies(BASELINE),
    enforcement_level=EnforcementLevel.MANDATORY,
)
