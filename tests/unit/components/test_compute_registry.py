"""The cluster ready for workloads and its region's registry, under mocks: identities, grants and their order."""

from __future__ import annotations

import re
from typing import Any

import pulumi
import pytest

from components.compute import ComputeCluster, ComputeClusterArgs
from components.network import PrivateNetwork, PrivateNetworkArgs
from components.placement import (
    ACR_PULL,
    AKS_CLUSTER_ADMIN_ROLE,
    AKS_RBAC_CLUSTER_ADMIN,
    MANAGED_IDENTITY_OPERATOR,
    NETWORK_CONTRIBUTOR,
    READER,
    AzurePlacement,
    container_registry_name,
)
from components.registry import ContainerRegistry, ContainerRegistryArgs
from platform_model.profiles import available_profiles
from platform_model.sizing import AksPlan
from tests.conftest import SUBSCRIPTION, PulumiHarness

TAGS = {"region": "eu", "data-classification": "vehicle-data", "data-residency": "eu"}
RG = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg"
SUBNET = f"{RG}/providers/Microsoft.Network/virtualNetworks/v/subnets/pe"
NODES = f"{RG}/providers/Microsoft.Network/virtualNetworks/v/subnets/nodes"
REGISTRY_ID = f"{RG}/providers/Microsoft.ContainerRegistry/registries/aceuimages0123"
ZONES = {key: f"{RG}/providers/Microsoft.Network/privateDnsZones/{key}" for key in ("registry", "blob")}
ADMIN = "00000000-0000-0000-0000-0000000000aa"
AKS = "azure-native:containerservice:ManagedCluster"
ROLE_ASSIGNMENT = "azure-native:authorization:RoleAssignment"


def placement(location: str = "westeurope", cloud: Any = "public") -> AzurePlacement:
    return AzurePlacement(
        resource_group_name="rg",
        location=location,
        cloud=cloud,
        tags=TAGS,
        private_endpoint_subnet_id=SUBNET,
        private_dns_zone_ids=ZONES,
    )


def cluster_args(registry_id: str | None = REGISTRY_ID, location: str = "westeurope") -> ComputeClusterArgs:
    return ComputeClusterArgs(
        placement(location),
        AksPlan(vm_size="Standard_D4s_v5", system_nodes=3, user_min_nodes=3, user_max_nodes=6),
        dns_prefix="autocloud-eu",
        zones=True,
        service_cidr="10.100.0.0/16",
        dns_service_ip="10.100.0.10",
        pod_cidr="10.244.0.0/16",
        node_subnet_id=NODES,
        cluster_admins=[ADMIN],
        registry_id=registry_id,
    )


def dependencies_recorder() -> tuple[pulumi.ResourceTransformation, dict[str, set[str]]]:
    """A transformation, inherited by every child, that notes the logical names each resource waits for."""
    waits: dict[str, set[str]] = {}

    def record(args: pulumi.ResourceTransformationArgs) -> None:
        depends_on = args.opts.depends_on if args.opts is not None else None
        resources = depends_on if isinstance(depends_on, list) else [depends_on] if depends_on else []
        waits[args.name] = {r._name for r in resources if isinstance(r, pulumi.Resource)}
        return None

    return record, waits


def grants(h: PulumiHarness) -> dict[str, dict[str, Any]]:
    return {g.name: g.inputs for g in h.mocks.of_type(ROLE_ASSIGNMENT)}


def test_cluster_issues_oidc_tokens_for_workload_identity(pulumi_harness: PulumiHarness) -> None:
    mocks = pulumi_harness.start()
    cluster = pulumi_harness.run(lambda: ComputeCluster("eu-compute", cluster_args()))
    aks = mocks.one(AKS).inputs
    assert aks["oidcIssuerProfile"] == {"enabled": True}
    assert aks["securityProfile"] == {"workloadIdentity": {"enabled": True}}
    # The issuer Azure reports is what the workloads' federated credentials trust.
    issuer = "https://westeurope.oic.prod-aks.azure.com/tenant/eu-compute-aks/"
    assert pulumi_harness.value(cluster.oidc_issuer_url) == issuer


def test_cluster_api_server_private_with_public_network_access_enabled(pulumi_harness: PulumiHarness) -> None:
    mocks = pulumi_harness.start()
    pulumi_harness.run(lambda: ComputeCluster("eu-compute", cluster_args()))
    aks = mocks.one(AKS).inputs
    assert aks["apiServerAccessProfile"]["enablePrivateCluster"] is True
    # Disabled would block more than the API server (Azure/AKS#4220); run command stays available to admins.
    assert aks["publicNetworkAccess"] == "Enabled"
    assert aks["apiServerAccessProfile"]["disableRunCommand"] is False


def test_kubelet_identity_is_user_assigned_and_granted_before_the_cluster(pulumi_harness: PulumiHarness) -> None:
    mocks = pulumi_harness.start()
    record, waits = dependencies_recorder()
    cluster = pulumi_harness.run(
        lambda: ComputeCluster("eu-compute", cluster_args(), pulumi.ResourceOptions(transformations=[record]))
    )
    aks = mocks.one(AKS).inputs
    identities = {i.name for i in mocks.of_type("azure-native:managedidentity:UserAssignedIdentity")}
    assert identities == {"eu-compute-identity", "eu-compute-kubelet"}
    assert aks["identity"]["type"] == "UserAssigned"
    assert [i.rsplit("/", 1)[-1] for i in aks["identity"]["userAssignedIdentities"]] == ["eu-compute-identity"]
    kubelet = aks["identityProfile"]["kubeletidentity"]
    assert kubelet["resourceId"].endswith("/eu-compute-kubelet")
    assert kubelet["clientId"] == "client-eu-compute-kubelet"
    assert kubelet["objectId"] == "principal-eu-compute-kubelet"
    assert pulumi_harness.value(cluster.kubelet_principal_id) == "principal-eu-compute-kubelet"

    granted = grants(pulumi_harness)
    operator = granted["eu-compute-kubelet-operator"]
    assert operator["scope"] == kubelet["resourceId"]
    assert operator["principalId"] == "principal-eu-compute-identity"
    assert operator["roleDefinitionId"].endswith(MANAGED_IDENTITY_OPERATOR)
    pull = granted["eu-compute-kubelet-pull"]
    assert (pull["scope"], pull["principalId"]) == (REGISTRY_ID, "principal-eu-compute-kubelet")
    assert (
        pull["roleDefinitionId"]
        == f"/subscriptions/{SUBSCRIPTION}/providers/Microsoft.Authorization/roleDefinitions/{ACR_PULL}"
    )
    assert granted["eu-compute-subnet-access"]["roleDefinitionId"].endswith(NETWORK_CONTRIBUTOR)
    # The cluster is created only once its identities hold their roles.
    assert waits["eu-compute-aks"] == {
        "eu-compute-subnet-access",
        "eu-compute-kubelet-operator",
        "eu-compute-kubelet-pull",
    }


def test_cluster_without_registry_grants_no_pull(pulumi_harness: PulumiHarness) -> None:
    pulumi_harness.start()
    pulumi_harness.run(lambda: ComputeCluster("eu-compute", cluster_args(registry_id=None)))
    granted = grants(pulumi_harness)
    assert "eu-compute-kubelet-pull" not in granted
    assert "eu-compute-kubelet-operator" in granted


def test_cluster_admins_can_run_commands_in_the_private_cluster(pulumi_harness: PulumiHarness) -> None:
    pulumi_harness.start()
    pulumi_harness.run(lambda: ComputeCluster("eu-compute", cluster_args()))
    granted = grants(pulumi_harness)
    expected = {
        "eu-compute-admin-0": AKS_RBAC_CLUSTER_ADMIN,
        "eu-compute-run-command-0": AKS_CLUSTER_ADMIN_ROLE,
        "eu-compute-run-command-results-0": READER,
    }
    for name, role in expected.items():
        grant = granted[name]
        assert grant["scope"].endswith("/eu-compute-aks"), name
        assert grant["principalId"] == ADMIN, name
        assert grant["roleDefinitionId"].endswith(role), name
    assert {n for n in granted if n.startswith(("eu-compute-admin", "eu-compute-run-command"))} == set(expected)


@pytest.mark.parametrize(
    ("cloud", "location", "suffix"),
    [("public", "westeurope", "azurecr.io"), ("china", "chinanorth3", "azurecr.cn")],
)
def test_registry_is_premium_private_and_entra_only(
    pulumi_harness: PulumiHarness, cloud: str, location: str, suffix: str
) -> None:
    mocks = pulumi_harness.start()
    registry = pulumi_harness.run(
        lambda: ContainerRegistry(
            "eu-registry", ContainerRegistryArgs(placement(location, cloud), registry_name="aceuimages0123")
        )
    )
    acr = mocks.one("azure-native:containerregistry:Registry").inputs
    assert acr["registryName"] == "aceuimages0123"
    assert acr["location"] == location
    assert acr["sku"] == {"name": "Premium"}
    assert (acr["adminUserEnabled"], acr["anonymousPullEnabled"]) == (False, False)
    assert acr["publicNetworkAccess"] == "Disabled"
    assert acr["tags"] == TAGS
    endpoint = mocks.one("azure-native:network:PrivateEndpoint").inputs
    connection = endpoint["privateLinkServiceConnections"][0]
    assert connection["groupIds"] == ["registry"]
    assert connection["privateLinkServiceId"].endswith("/aceuimages0123")
    assert endpoint["subnet"] == {"id": SUBNET}
    group = mocks.one("azure-native:network:PrivateDnsZoneGroup").inputs
    assert [c["privateDnsZoneId"] for c in group["privateDnsZoneConfigs"]] == [ZONES["registry"]]
    assert registry.login_server == f"aceuimages0123.{suffix}"
    assert pulumi_harness.value(registry.endpoints) == {"login_server": f"aceuimages0123.{suffix}"}
    assert registry.location == location


@pytest.mark.parametrize(("cloud", "zone"), [("public", "privatelink.azurecr.io"), ("china", "privatelink.azurecr.cn")])
def test_registry_private_dns_zone_per_cloud(pulumi_harness: PulumiHarness, cloud: str, zone: str) -> None:
    mocks = pulumi_harness.start()
    base = AzurePlacement(resource_group_name="rg", location="westeurope", cloud=cloud, tags=TAGS)  # type: ignore[arg-type]
    pulumi_harness.run(lambda: PrivateNetwork("eu-network", PrivateNetworkArgs(placement=base, zone_keys=["registry"])))
    assert [z.inputs["privateZoneName"] for z in mocks.of_type("azure-native:privatedns:PrivateZone")] == [zone]


def test_registry_names_are_valid_stable_and_distinct(pulumi_harness: PulumiHarness) -> None:
    pulumi_harness.start()
    regions = (*available_profiles(), "a-very-long-region-name")
    names = pulumi_harness.run(lambda: {region: container_registry_name(region) for region in regions})
    again = pulumi_harness.run(lambda: {region: container_registry_name(region) for region in regions})
    assert names == again
    for name in names.values():
        assert re.fullmatch(r"[a-z0-9]{5,50}", name), name
    assert len(set(names.values())) == len(names)


def test_platform_pulls_from_its_own_registry(pulumi_harness: PulumiHarness) -> None:
    run = pulumi_harness.run_program("azure-cn")
    registry = run.mocks.one("azure-native:containerregistry:Registry")
    assert registry.inputs["location"] == "chinanorth3"
    pull = next(g for g in run.mocks.of_type(ROLE_ASSIGNMENT) if g.name.endswith("-kubelet-pull"))
    assert pull.inputs["scope"].endswith("/" + registry.inputs["registryName"])
    zones = {z.inputs["privateZoneName"] for z in run.mocks.of_type("azure-native:privatedns:PrivateZone")}
    assert "privatelink.azurecr.cn" in zones
