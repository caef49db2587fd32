"""The autocloud-deployability policy pack (serves until the engine stops it; the rules live in policies.rules).

Azure's own constraints that a first `pulumi up` would hit, each rule citing its documentation source.
"""

from pulumi_policy import EnforcementLevel, PolicyPack

from policies.adapters import build_policies
from policies.packs import DEPLOYABILITY, PACK_NAMES

PolicyPack(
    name=PACK_NAMES["deployability"],
    policies=build_policies(DEPLOYABILITY),
    enforcement_level=EnforcementLevel.MANDATORY,
)
