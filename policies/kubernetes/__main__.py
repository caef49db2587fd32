"""The autocloud-kubernetes policy pack (serves until the engine stops it; the rules live in policies.rules)."""

from pulumi_policy import EnforcementLevel, PolicyPack

from policies.adapters import build_policies
from policies.packs import KUBERNETES, PACK_NAMES

PolicyPack(
    name=PACK_NAMES["kubernetes"],
    policies=build_policies(KUBERNETES),
    enforcement_level=EnforcementLevel.MANDATORY,
)
