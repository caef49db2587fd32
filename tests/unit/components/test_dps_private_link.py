"""DPS private endpoints and their DNS zone exist only where Private Link serves DPS (public cloud)."""

from __future__ import annotations

from components.platform import _private_zone_keys
from components.telemetry import DeviceProvisioning, DeviceProvisioningArgs, LinkedHub
from platform_model.profiles import load_profile
from tests.conftest import PulumiHarness
from tests.unit.components.test_components import placement

PRIVATE_ENDPOINT = "azure-native:network:PrivateEndpoint"


def test_public_dps_gets_a_private_endpoint_in_its_zone(pulumi_harness: PulumiHarness) -> None:
    mocks = pulumi_harness.start()
    hubs = [LinkedHub(name="hub-1", location="westeurope", key="a2V5")]
    pulumi_harness.run(
        lambda: DeviceProvisioning("eu-provisioning", DeviceProvisioningArgs(placement(), hubs, 1, False))
    )
    endpoint = mocks.one(PRIVATE_ENDPOINT)
    assert endpoint.inputs["privateLinkServiceConnections"][0]["groupIds"] == ["iotDps"]
    zone_group = mocks.one("azure-native:network:PrivateDnsZoneGroup")
    assert [c["name"] for c in zone_group.inputs["privateDnsZoneConfigs"]] == ["dps"]


def test_china_dps_gets_no_private_endpoint(pulumi_harness: PulumiHarness) -> None:
    mocks = pulumi_harness.start("azure-cn")
    hubs = [LinkedHub(name="hub-1", location="chinanorth3", key="a2V5")]
    pulumi_harness.run(
        lambda: DeviceProvisioning(
            "cn-provisioning", DeviceProvisioningArgs(placement("chinanorth3", "china"), hubs, 1, True)
        )
    )
    assert mocks.of_type("azure-native:deviceprovisioningservices:IotDpsResource")
    assert mocks.of_type(PRIVATE_ENDPOINT) == []
    assert mocks.of_type("azure-native:network:PrivateDnsZoneGroup") == []


def test_the_network_has_a_dps_zone_only_in_the_public_cloud() -> None:
    services = load_profile("eu").services
    assert "dps" in _private_zone_keys(services, "public")
    assert "dps" not in _private_zone_keys(services, "china")
    assert set(_private_zone_keys(services, "public")) - set(_private_zone_keys(services, "china")) == {"dps"}
