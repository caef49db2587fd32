"""deployability-network-cidrs: a VNet, its subnet and an overlay AKS cluster, each range moved in turn."""

from __future__ import annotations

from typing import Any

import pytest

from policies.model import ResourceView, RuleContext
from policies.rules.deployability.network_cidrs import RULE
from policies.testing import DELETE, changed, details

VNET = "azure-native:network:VirtualNetwork"
SUBNET = "azure-native:network:Subnet"
AKS = "azure-native:containerservice:ManagedCluster"
CLUSTER: dict[str, Any] = {
    "networkProfile": {
        "networkPlugin": "azure",
        "networkPluginMode": "overlay",
        "serviceCidr": "10.100.0.0/16",
        "dnsServiceIP": "10.100.0.10",
        "podCidr": "10.244.0.0/16",
    }
}


def stack(cluster: dict[str, Any], vnet: str = "10.10.0.0/16", subnet: str = "10.10.16.0/20") -> list[ResourceView]:
    return [
        ResourceView.of(VNET, {"addressSpace": {"addressPrefixes": [vnet]}}, name="vnet"),
        ResourceView.of(SUBNET, {"addressPrefix": subnet}, name="nodes"),
        ResourceView.of(AKS, cluster, name="aks"),
    ]


def test_accepts_ranges_apart(eu: RuleContext) -> None:
    assert details(RULE, stack(CLUSTER), eu) == []


def test_refuses_service_cidr_overlapping_the_vnet(eu: RuleContext) -> None:
    found = details(RULE, stack(changed(CLUSTER, "networkProfile.serviceCidr", "10.10.0.0/16")), eu)
    assert any("networkProfile.serviceCidr 10.10.0.0/16 overlaps 10.10.0.0/16 of vnet" in f for f in found)
    assert all("ServiceCidrOverlapExistingSubnetsCidr" in f for f in found if "overlaps" in f)


def test_refuses_default_service_cidr_on_a_10_0_vnet(eu: RuleContext) -> None:
    """The shipped defect: no serviceCidr set, so AKS takes 10.0.0.0/16, the VNet's own range."""
    cluster = changed(changed(CLUSTER, "networkProfile.serviceCidr", DELETE), "networkProfile.dnsServiceIP", DELETE)
    found = details(RULE, stack(cluster, vnet="10.0.0.0/16", subnet="10.0.16.0/20"), eu)
    assert found and all("networkProfile.serviceCidr 10.0.0.0/16 overlaps" in f for f in found)


def test_refuses_pod_cidr_overlapping_the_vnet(eu: RuleContext) -> None:
    found = details(RULE, stack(changed(CLUSTER, "networkProfile.podCidr", "10.10.128.0/17")), eu)
    assert any(f.startswith("networkProfile.podCidr 10.10.128.0/17 overlaps 10.10.0.0/16 of vnet") for f in found)


def test_refuses_pod_cidr_overlapping_the_service_cidr(eu: RuleContext) -> None:
    found = details(RULE, stack(changed(CLUSTER, "networkProfile.podCidr", "10.100.128.0/17")), eu)
    assert found == [
        "networkProfile.podCidr 10.100.128.0/17 overlaps networkProfile.serviceCidr 10.100.0.0/16 (source: "
        "ContainerServiceNetworkProfile, azure-rest-api-specs managedClusters.json; "
        "learn.microsoft.com/azure/aks/azure-cni-overlay)"
    ]


def test_pod_cidr_ignored_without_overlay(eu: RuleContext) -> None:
    flat = changed(
        changed(CLUSTER, "networkProfile.networkPluginMode", DELETE), "networkProfile.podCidr", "10.10.0.0/16"
    )
    assert details(RULE, stack(flat), eu) == []


@pytest.mark.parametrize("address", ["10.101.0.10", "10.100.0.1"])
def test_refuses_dns_service_ip_outside_or_reserved(eu: RuleContext, address: str) -> None:
    found = details(RULE, stack(changed(CLUSTER, "networkProfile.dnsServiceIP", address)), eu)
    assert len(found) == 1 and found[0].startswith(f"networkProfile.dnsServiceIP {address} is not a usable address")


def test_refuses_a_service_cidr_that_is_no_cidr(eu: RuleContext) -> None:
    found = details(RULE, stack(changed(CLUSTER, "networkProfile.serviceCidr", "ten-dot")), eu)
    assert len(found) == 1 and "'ten-dot' is not a CIDR block" in found[0]
