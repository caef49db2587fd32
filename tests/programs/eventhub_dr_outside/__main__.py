"""residency-eventhub-geo-dr-partner: geo-DR pairing with a namespace this stack cannot vouch for."""

import pulumi_azure_native as azure_native

TAGS = {"region": "eu", "data-residency": "eu", "data-classification": "vehicle-data"}
PARTNER = (
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-us"
    "/providers/Microsoft.EventHub/namespaces/fleet-us"
)

namespace = azure_native.eventhub.Namespace(
    "streaming",
    resource_group_name="rg-eu",
    location="westeurope",
    sku={"name": "Standard"},
    public_network_access="Disabled",
    minimum_tls_version="1.2",
    disable_local_auth=True,
    tags=TAGS,
)
azure_native.eventhub.DisasterRecoveryConfig(
    "streaming-dr",
    resource_group_name="rg-eu",
    namespace_name=namespace.name,
    alias="fleet",
    partner_namespace=PARTNER,
)
