"""residency-cosmosdb-replica-location: an EU account replicating to East US."""

import pulumi_azure_native as azure_native

TAGS = {"region": "eu", "data-residency": "eu", "data-classification": "vehicle-data"}

azure_native.cosmosdb.DatabaseAccount(
    "state",
    resource_group_name="rg-eu",
    location="westeurope",
    database_account_offer_type="Standard",
    locations=[
        {"location_name": "westeurope", "failover_priority": 0},
        {"location_name": "eastus", "failover_priority": 1},
    ],
    public_network_access="Disabled",
    minimal_tls_version="Tls12",
    disable_local_auth=True,
    tags=TAGS,
)
