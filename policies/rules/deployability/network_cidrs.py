"""AKS's service range, DNS service IP and pod overlay stay clear of the VNets of the stack.

Sources: ``ContainerServiceNetworkProfile`` in Azure/azure-rest-api-specs
(specification/containerservice/resource-manager/Microsoft.ContainerService/aks, managedClusters.json):
``serviceCidr`` "must not overlap with any Subnet IP ranges" (default 10.0.0.0/16), ``dnsServiceIP``
"must be within the Kubernetes service address range specified in serviceCidr" (default 10.0.0.10),
``podCidr`` default 10.244.0.0/16. AKS refuses an overlap with ``ServiceCidrOverlapExistingSubnetsCidr``
(Azure/azure-cli#20810, hashicorp/terraform-provider-azurerm#15711). With Azure CNI Overlay the pod
CIDR must not overlap the cluster's VNet either (https://learn.microsoft.com/azure/aks/azure-cni-overlay).
An unset value is judged at its default, which is how a 10.0.0.0/16 VNet meets the default service
range. The first address of the service range is kubernetes.default's, so the DNS IP cannot be it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Sequence
from typing import Any

from policies.facts.azure import AKS
from policies.facts.props import get, items
from policies.model import ResourceView, RuleContext, StackRule

VNET = "azure-native:network:VirtualNetwork"
SUBNET = "azure-native:network:Subnet"
DEFAULT_SERVICE_CIDR = "10.0.0.0/16"
DEFAULT_DNS_SERVICE_IP = "10.0.0.10"
DEFAULT_POD_CIDR = "10.244.0.0/16"
SOURCE = (
    "ContainerServiceNetworkProfile, azure-rest-api-specs managedClusters.json; "
    "learn.microsoft.com/azure/aks/azure-cni-overlay"
)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _network(value: object) -> Network | None:
    try:
        return ipaddress.ip_network(str(value), strict=False)
    except ValueError:
        return None


def vnet_ranges(resources: Sequence[ResourceView]) -> list[tuple[str, Network]]:
    """Every address range the stack's VNets and subnets claim, with where it was declared."""
    ranges: list[tuple[str, Network]] = []
    for view in resources:
        if view.type == VNET:
            values = list(items(get(view.props, "addressSpace.addressPrefixes")))
        elif view.type == SUBNET:
            values = [get(view.props, "addressPrefix"), *items(get(view.props, "addressPrefixes"))]
        else:
            continue
        for value in values:
            network = _network(value) if value is not None else None
            if network is not None:
                ranges.append((view.name, network))
    return ranges


def _uses_pod_cidr(profile: Any) -> bool:
    """Overlay (Azure CNI Overlay) and kubenet clusters take pod IPs from podCidr."""
    plugin = str(get(profile, "networkPlugin", "")).lower()
    mode = str(get(profile, "networkPluginMode", "")).lower()
    return mode == "overlay" or plugin == "kubenet"


def cluster_problems(cluster: ResourceView, ranges: list[tuple[str, Network]]) -> Iterator[str]:
    profile = get(cluster.props, "networkProfile", {})
    service_value = get(profile, "serviceCidr") or DEFAULT_SERVICE_CIDR
    dns_value = get(profile, "dnsServiceIP") or DEFAULT_DNS_SERVICE_IP
    service = _network(service_value)
    if service is None:
        yield f"networkProfile.serviceCidr {service_value!r} is not a CIDR block (source: {SOURCE})"
        return
    blocks: list[tuple[str, Network]] = [("networkProfile.serviceCidr", service)]
    if _uses_pod_cidr(profile):
        pod_value = get(profile, "podCidr") or DEFAULT_POD_CIDR
        pod = _network(pod_value)
        if pod is None:
            yield f"networkProfile.podCidr {pod_value!r} is not a CIDR block (source: {SOURCE})"
        else:
            blocks.append(("networkProfile.podCidr", pod))
            if pod.overlaps(service):
                yield f"networkProfile.podCidr {pod} overlaps networkProfile.serviceCidr {service} (source: {SOURCE})"
    for key, block in blocks:
        for owner, network in ranges:
            if block.version == network.version and block.overlaps(network):
                yield (
                    f"{key} {block} overlaps {network} of {owner}, which AKS refuses "
                    f"(ServiceCidrOverlapExistingSubnetsCidr; allowed: a range outside every VNet; source: {SOURCE})"
                )
    try:
        dns = ipaddress.ip_address(str(dns_value))
    except ValueError:
        yield f"networkProfile.dnsServiceIP {dns_value!r} is not an IP address (source: {SOURCE})"
        return
    if dns not in service or dns in (service.network_address, service.network_address + 1):
        yield (
            f"networkProfile.dnsServiceIP {dns} is not a usable address of networkProfile.serviceCidr {service} "
            f"(allowed: inside it, not its first two addresses; source: {SOURCE})"
        )


def validate(resources: Sequence[ResourceView], ctx: RuleContext) -> Iterator[tuple[str, str]]:
    clusters = [view for view in resources if view.type == AKS]
    if not clusters:
        return
    ranges = vnet_ranges(resources)
    for cluster in clusters:
        for problem in cluster_problems(cluster, ranges):
            yield cluster.urn, problem


RULE = StackRule(
    name="deployability-network-cidrs",
    description="AKS service CIDR, DNS service IP and pod CIDR do not overlap the stack's VNets and subnets "
    "(AKS refuses ServiceCidrOverlapExistingSubnetsCidr; unset values count at their defaults).",
    remediation="Set networkProfile.serviceCidr, dnsServiceIP and podCidr from the profile's network plan "
    "(regions/<region>.yaml network:), outside network.vnet.",
    validate=validate,
)
