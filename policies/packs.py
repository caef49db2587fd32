"""Which rules each policy pack serves. The packs' `__main__.py` and `autocloud check` both read this."""

from __future__ import annotations

from collections.abc import Mapping

from policies.model import Pack, Rule
from policies.rules.baseline import local_auth_disabled, min_tls_version, public_network_access, required_tags
from policies.rules.deployability import (
    cosmos_backup_zones,
    device_endpoint_reachable,
    dps_link_shared_access,
    iot_data_residency_location,
    iothub_min_tls_location,
    location_capability,
    log_analytics_query,
    naming_rules,
    network_cidrs,
)
from policies.rules.kubernetes import (
    cross_region_endpoint,
    namespace_placement,
    namespace_region_label,
    network_policy_region,
    no_external_name_service,
)
from policies.rules.residency import (
    cosmosdb_replica_location,
    eventhub_capture_location,
    eventhub_geo_dr_partner,
    iot_data_residency,
    iothub_routing_endpoints,
    location_unverified,
    maps_allowed,
    provider_environment,
    resource_location,
    storage_redundancy,
)

RESIDENCY: tuple[Rule, ...] = (
    resource_location.RULE,
    location_unverified.RULE,
    cosmosdb_replica_location.RULE,
    eventhub_geo_dr_partner.RULE,
    eventhub_capture_location.RULE,
    iothub_routing_endpoints.RULE,
    iot_data_residency.RULE,
    storage_redundancy.RULE,
    provider_environment.RULE,
    maps_allowed.RULE,
)

BASELINE: tuple[Rule, ...] = (
    public_network_access.RULE,
    min_tls_version.RULE,
    local_auth_disabled.RULE,
    required_tags.RULE,
)

KUBERNETES: tuple[Rule, ...] = (
    namespace_region_label.RULE,
    no_external_name_service.RULE,
    network_policy_region.RULE,
    cross_region_endpoint.RULE,
    namespace_placement.RULE,
)

DEPLOYABILITY: tuple[Rule, ...] = (
    network_cidrs.RULE,
    dps_link_shared_access.RULE,
    device_endpoint_reachable.RULE,
    iot_data_residency_location.RULE,
    iothub_min_tls_location.RULE,
    location_capability.RULE,
    cosmos_backup_zones.RULE,
    log_analytics_query.RULE,
    naming_rules.RULE,
)

PACK_RULES: Mapping[Pack, tuple[Rule, ...]] = {
    "residency": RESIDENCY,
    "baseline": BASELINE,
    "kubernetes": KUBERNETES,
    "deployability": DEPLOYABILITY,
}

#: The PolicyPack name each pack registers with the engine.
PACK_NAMES: Mapping[Pack, str] = {pack: f"autocloud-{pack}" for pack in PACK_RULES}

ALL_RULES: tuple[Rule, ...] = RESIDENCY + BASELINE + KUBERNETES + DEPLOYABILITY

RELAXABLE: frozenset[str] = frozenset(rule.name for rule in ALL_RULES if rule.relaxable)


def pack_of(rule_name: str) -> Pack:
    for pack, rules in PACK_RULES.items():
        if any(rule.name == rule_name for rule in rules):
            return pack
    raise KeyError(rule_name)
