"""residency-iothub-routing-endpoints: device messages routed to an Event Hubs namespace outside the stack."""

import pulumi_azure_native as azure_native

TAGS = {"region": "eu", "data-residency": "eu", "data-classification": "vehicle-data"}

azure_native.iothub.IotHubResource(
    "telemetry",
    resource_group_name="rg-eu",
    location="westeurope",
    sku={"name": "S1", "capacity": 1},
    properties={
        "public_network_access": "Enabled",
        "min_tls_version": "1.2",
        "disable_local_auth": True,
        "disable_device_sas": True,
        "disable_module_sas": True,
        "routing": {
            "endpoints": {
                "event_hubs": [
                    {
                        "name": "telemetry",
                        "endpoint_uri": "sb://fleet-us.servicebus.windows.net",
                        "entity_path": "telemetry",
                        "authentication_type": "identityBased",
                    }
                ]
            },
            "routes": [
                {"name": "all", "source": "DeviceMessages", "endpoint_names": ["telemetry"], "is_enabled": True}
            ],
        },
    },
    tags=TAGS,
)
