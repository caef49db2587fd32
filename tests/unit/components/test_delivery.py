"""One workload definition on both targets, and its delivery to the private AKS cluster under mocks.

The state writer is rendered for the local target and for Azure by the same functions; the two
renderings may differ only in the paths named below (registry, endpoints, auth, identity). Then
ServiceDelivery's resources are checked as the provider would receive them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
import yaml

from components.contracts import RegionalPlatformArgs, region_labels, region_tags
from components.delivery import (
    FLUX_NAMESPACE,
    STORAGE_BLOB_DATA_READER,
    ServiceDelivery,
    ServiceDeliveryArgs,
    manifests_yaml,
)
from components.local.kube import pod_spec
from components.local.state import local_writer_wiring
from components.placement import STORAGE_BLOB_DATA_CONTRIBUTOR, AzurePlacement
from components.platform import RegionalPlatform
from components.services import (
    AZURE_WRITER_RESOURCES,
    StateStream,
    StateWriterWiring,
    StorePassword,
    azure_writer_wiring,
    registry_image,
    writer_workload,
)
from components.streaming import DEFAULT_CONSUMER_GROUPS
from components.workloads import WORKLOAD_IDENTITY_CLIENT_ID, WORKLOAD_IDENTITY_USE, render_workload
from platform_model import local_images
from platform_model.profiles import load_profile
from platform_model.sizing import plan_for_profile
from platform_model.vocabulary import region_namespace
from policies.config import context_for_profile
from policies.engine import Evaluator
from policies.model import ResourceView
from policies.packs import ALL_RULES
from tests.conftest import DYNAMIC_RESOURCE, PulumiHarness

EU = load_profile("eu")
NAMESPACE = region_namespace("eu")
LABELS = region_labels(EU)
CLIENT_ID = "11111111-2222-3333-4444-555555555555"
LOGIN_SERVER = "acautocloudeu.azurecr.io"
COSMOS = "https://ac-eu-state.documents.azure.com:443/"
EVENT_HUBS = ("ac-eu-stream-1-abc.servicebus.windows.net:9093", "ac-eu-stream-2-abc.servicebus.windows.net:9093")
LOCAL_STREAMS = (
    StateStream("unit-1", "streaming-1.autocloud-eu.svc.cluster.local:9092"),
    StateStream("unit-2", "streaming-2.autocloud-eu.svc.cluster.local:9092"),
)
CONTAINER = "Deployment/statewriter:spec.template.spec.containers[statewriter]"

TARGET_PATHS = {
    f"{CONTAINER}.image",
    f"{CONTAINER}.resources.requests.cpu",
    f"{CONTAINER}.args[--brokers]",
    f"{CONTAINER}.args[--kafka-auth]",
    f"{CONTAINER}.args[--store-kind]",
    f"{CONTAINER}.args[--store]",
    f"{CONTAINER}.env[STATEWRITER_STORE_USERNAME]",
    f"{CONTAINER}.env[STATEWRITER_STORE_PASSWORD]",
    f"ServiceAccount/statewriter:metadata.annotations.{WORKLOAD_IDENTITY_CLIENT_ID}",
    f"Deployment/statewriter:spec.template.metadata.labels.{WORKLOAD_IDENTITY_USE}",
}
"""Where the two targets' state writers may differ: image registry, CPU request, Kafka endpoints and auth,
store kind, URI and auth, the workload identity annotation and label. Nothing else."""


def flatten(value: Any, path: str, out: dict[str, Any]) -> None:
    """Leaf values by path; named lists (containers, ports) keyed by name, env entries and args by name and flag."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            flatten(item, f"{path}.{key}" if path else str(key), out)
    elif isinstance(value, list) and path.endswith(".args"):
        flags: dict[str, list[str]] = {}
        flag = ""
        for arg in value:
            if arg.startswith("--"):
                flag = arg
                flags.setdefault(flag, [])
            else:
                flags[flag].append(arg)
        for flag, values in flags.items():
            out[f"{path[: -len('.args')]}.args[{flag}]"] = values
    elif isinstance(value, list) and path.endswith(".env"):
        for item in value:
            out[f"{path}[{item['name']}]"] = {k: v for k, v in item.items() if k != "name"}
    elif isinstance(value, list) and value and all(isinstance(v, Mapping) and "name" in v for v in value):
        for item in value:
            flatten({k: v for k, v in item.items() if k != "name"}, f"{path}[{item['name']}]", out)
    else:
        out[path] = value


def rendered(wiring: StateWriterWiring) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for manifest in render_workload(writer_workload(wiring), NAMESPACE, LABELS):
        flatten(manifest, f"{manifest['kind']}/{manifest['metadata']['name']}:", out)
    return {key.replace(":.", ":"): value for key, value in out.items()}


def local_wiring() -> StateWriterWiring:
    store = "mongodb://state.autocloud-eu.svc.cluster.local:27017/"
    return local_writer_wiring(
        local_images.image_reference("statewriter"), "state-key", LOCAL_STREAMS, "telemetry", store
    )


def test_state_writer_is_the_same_workload_on_both_targets_but_for_its_wiring() -> None:
    local = rendered(local_wiring())
    azure = rendered(azure_writer_wiring(LOGIN_SERVER, EVENT_HUBS, COSMOS, CLIENT_ID))

    differing = {path for path in local.keys() | azure.keys() if local.get(path) != azure.get(path)}
    assert differing == TARGET_PATHS
    assert len(local) > 40, "the comparison covers the whole rendering"

    tag = local_images.image_tag("statewriter")
    assert local[f"{CONTAINER}.image"] == f"autocloud.local/statewriter:{tag}"
    assert azure[f"{CONTAINER}.image"] == f"{LOGIN_SERVER}/statewriter:{tag}"
    assert azure[f"{CONTAINER}.args[--brokers]"] == [f"unit-{n}={host}" for n, host in enumerate(EVENT_HUBS, 1)]
    assert azure[f"{CONTAINER}.args[--kafka-auth]"] == ["entra"]
    assert azure[f"{CONTAINER}.args[--store-kind]"] == ["cosmos-nosql"]
    assert azure[f"{CONTAINER}.args[--store]"] == [COSMOS]
    assert azure[f"ServiceAccount/statewriter:metadata.annotations.{WORKLOAD_IDENTITY_CLIENT_ID}"] == CLIENT_ID
    assert azure[f"Deployment/statewriter:spec.template.metadata.labels.{WORKLOAD_IDENTITY_USE}"] == "true"
    assert f"{CONTAINER}.env[STATEWRITER_STORE_PASSWORD]" not in azure, "Entra ID: no password on Azure"
    assert local[f"{CONTAINER}.env[STATEWRITER_STORE_PASSWORD]"] == {
        "valueFrom": {"secretKeyRef": {"name": "state-key", "key": "password"}}
    }
    assert f"{CONTAINER}.args[--kafka-auth]" not in local, "local arguments stay as they were"


def test_local_state_writer_keeps_its_arguments_and_password() -> None:
    [account, deployment, service] = render_workload(writer_workload(local_wiring()), NAMESPACE, LABELS)
    assert "annotations" not in account["metadata"] and account["automountServiceAccountToken"] is False
    assert WORKLOAD_IDENTITY_USE not in deployment["spec"]["template"]["metadata"]["labels"]
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    # Exactly the arguments local stacks ran before the writer was shared: no rollout on upgrade.
    assert container["args"] == [
        "--brokers",
        f"unit-1={LOCAL_STREAMS[0].bootstrap}",
        "--brokers",
        f"unit-2={LOCAL_STREAMS[1].bootstrap}",
        "--topic",
        "telemetry",
        "--group",
        "statewriter",
        "--store",
        "mongodb://state.autocloud-eu.svc.cluster.local:27017/",
        "--database",
        "vehicles",
        "--collection",
        "vehicle-state",
        "--listen",
        ":8080",
    ]
    assert {
        "name": "STATEWRITER_STORE_PASSWORD",
        "valueFrom": {"secretKeyRef": {"name": "state-key", "key": "password"}},
    } in container["env"]
    assert service["spec"]["ports"] == [{"name": "http", "port": 8080, "targetPort": 8080, "protocol": "TCP"}]
    assert deployment["spec"]["template"]["spec"] == pod_spec(writer_workload(local_wiring()))


def test_azure_state_writer_joins_the_consumer_group_every_hub_has() -> None:
    """The group the writer's Kafka consumer joins is one the Event Hubs namespace creates on its hubs."""
    [_, deployment, _] = render_workload(
        writer_workload(azure_writer_wiring(LOGIN_SERVER, EVENT_HUBS, COSMOS, CLIENT_ID)), NAMESPACE, LABELS
    )
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    args = container["args"]
    assert args[args.index("--group") + 1] in DEFAULT_CONSUMER_GROUPS
    assert args[args.index("--kafka-auth") + 1] == "entra"
    assert args[args.index("--store-kind") + 1] == "cosmos-nosql"


def test_wiring_refuses_cloud_auth_without_an_identity_and_passwords_for_cosmos() -> None:
    with pytest.raises(ValueError, match="identity_client_id"):
        StateWriterWiring(
            image="x", streams=(), topic="t", store_uri=COSMOS, resources=AZURE_WRITER_RESOURCES, kafka_auth="entra"
        )
    with pytest.raises(ValueError, match="store_password"):
        StateWriterWiring(
            image="x",
            streams=(),
            topic="t",
            store_uri=COSMOS,
            resources=AZURE_WRITER_RESOURCES,
            store_kind="cosmos-nosql",
            identity_client_id=CLIENT_ID,
            store_password=StorePassword("u", "s", "k"),
        )
    with pytest.raises(ValueError, match="not an image built here"):
        registry_image(LOGIN_SERVER, "docker.io/library/busybox:1.35")


PLACEMENT = AzurePlacement(
    resource_group_name="rg-eu",
    location="westeurope",
    cloud="public",
    tags=region_tags(EU),
    private_endpoint_subnet_id="/subscriptions/s/resourceGroups/rg-eu/providers/Microsoft.Network/virtualNetworks/v/subnets/pe",
    private_dns_zone_ids={
        "blob": "/subscriptions/s/resourceGroups/rg-eu/providers/Microsoft.Network/privateDnsZones/blob"
    },
)
ISSUER = "https://westeurope.oic.prod-aks.azure.com/tenant/cluster/"


def delivery_args(
    manifests: list[dict[str, Any]], deployers: tuple[str, ...] = ("203.0.113.0/28",)
) -> ServiceDeliveryArgs:
    return ServiceDeliveryArgs(
        placement=PLACEMENT,
        cluster_name="aks-eu",
        oidc_issuer_url=ISSUER,
        namespace=NAMESPACE,
        namespace_labels=LABELS,
        manifests=manifests,
        storage_account_name="acdeliveryeu",
        deployer_ip_ranges=deployers,
    )


def test_service_delivery_hands_the_rendered_manifests_to_flux(pulumi_harness: PulumiHarness) -> None:
    mocks = pulumi_harness.start("azure-eu")
    manifests = render_workload(
        writer_workload(azure_writer_wiring(LOGIN_SERVER, EVENT_HUBS, COSMOS, CLIENT_ID)), NAMESPACE, LABELS
    )
    delivery = pulumi_harness.run(lambda: ServiceDelivery("eu-services", delivery_args(manifests)))

    extension = mocks.one("azure-native:kubernetesconfiguration:Extension")
    assert extension.inputs["extensionType"] == "microsoft.flux"
    assert extension.inputs["clusterRp"] == "Microsoft.ContainerService"
    assert extension.inputs["clusterResourceName"] == "managedClusters"
    assert extension.inputs["clusterName"] == "aks-eu"
    identity = mocks.one("azure-native:managedidentity:UserAssignedIdentity")
    flux_client_id = pulumi_harness.value(delivery.identity_client_id)
    assert extension.inputs["configurationSettings"] == {
        "workloadIdentity.enable": "true",
        "workloadIdentity.azureClientId": flux_client_id,
    }
    assert identity.inputs["location"] == "westeurope"

    federation = mocks.one("azure-native:managedidentity:FederatedIdentityCredential")
    assert federation.inputs["issuer"] == ISSUER
    assert federation.inputs["subject"] == f"system:serviceaccount:{FLUX_NAMESPACE}:source-controller"
    assert federation.inputs["audiences"] == ["api://AzureADTokenExchange"]

    config = mocks.one("azure-native:kubernetesconfiguration:FluxConfiguration")
    assert config.inputs["sourceKind"] == "AzureBlob"
    assert config.inputs["scope"] == "cluster" and config.inputs["namespace"] == FLUX_NAMESPACE
    blob_source = config.inputs["azureBlob"]
    assert blob_source["url"] == "https://acdeliveryeu.blob.core.windows.net"
    assert blob_source["containerName"] == "manifests"
    assert blob_source["managedIdentity"] == {"clientId": flux_client_id}
    assert "accountKey" not in blob_source and "sasToken" not in blob_source, "Flux reads with Entra ID only"
    kustomization = config.inputs["kustomizations"]["services"]
    assert kustomization["path"] == f"./{NAMESPACE}" and kustomization["prune"] is True

    blob = mocks.one(DYNAMIC_RESOURCE)
    assert (blob.inputs["suffix"], blob.inputs["blob"]) == ("blob.core.windows.net", f"{NAMESPACE}/services.yaml")
    assert blob.inputs["content_type"] == "application/yaml"
    text = blob.inputs["content"]
    assert text == manifests_yaml(
        [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE, "labels": LABELS}}, *manifests]
    )
    documents = list(yaml.safe_load_all(text))
    assert [d["kind"] for d in documents] == ["Namespace", "ServiceAccount", "Deployment", "Service"]
    assert documents[1:] == manifests
    assert pulumi_harness.value(delivery.source_url) == "https://acdeliveryeu.blob.core.windows.net"
    assert delivery.flux_configuration_name == f"{NAMESPACE}-services"
    assert pulumi_harness.value(delivery.manifest_url) == (
        f"https://acdeliveryeu.blob.core.windows.net/manifests/{NAMESPACE}/services.yaml"
    )

    # Flux reads the container as its identity; the deploying identity writes it: both with Entra ID only.
    roles = {r.name: r.inputs for r in mocks.of_type("azure-native:authorization:RoleAssignment")}
    assert roles["eu-services-source-reader"]["roleDefinitionId"].endswith(f"/{STORAGE_BLOB_DATA_READER}")
    assert roles["eu-services-source-reader"]["principalType"] == "ServicePrincipal"
    writer = roles["eu-services-deployer-writes"]
    assert writer["roleDefinitionId"].endswith(f"/{STORAGE_BLOB_DATA_CONTRIBUTOR}")
    assert writer["scope"] == roles["eu-services-source-reader"]["scope"]
    account = mocks.one("azure-native:storage:StorageAccount")
    assert account.inputs["allowSharedKeyAccess"] is False
    rules = account.inputs["networkRuleSet"]
    assert rules["defaultAction"] == "Deny" and rules["ipRules"] == [
        {"iPAddressOrRange": "203.0.113.0/28", "action": "Allow"}
    ]
    assert account.inputs["allowBlobPublicAccess"] is False and account.inputs["minimumTlsVersion"] == "TLS1_2"
    endpoint = mocks.one("azure-native:network:PrivateEndpoint")
    assert endpoint.inputs["privateLinkServiceConnections"][0]["groupIds"] == ["blob"]


@pytest.mark.parametrize(
    ("deployers", "expected"),
    [
        ((), set()),
        (("203.0.113.0/28",), {"baseline-public-network-access"}),
    ],
)
def test_the_baseline_refuses_only_a_firewall_opened_to_deployers(
    pulumi_harness: PulumiHarness, deployers: tuple[str, ...], expected: set[str]
) -> None:
    """The blob is written with Entra ID, so the source account refuses shared keys and passes the baseline;
    only the deploying machines' addresses in its firewall are refused (docs/azure.md)."""
    mocks = pulumi_harness.start("azure-eu")
    manifests = render_workload(writer_workload(local_wiring()), NAMESPACE, LABELS)
    pulumi_harness.run(lambda: ServiceDelivery("eu-services", delivery_args(manifests, deployers)))

    views = [ResourceView.of(r.type, r.inputs, r.name, stack="azure-eu") for r in mocks.resources]
    violations = Evaluator(ALL_RULES).run(views, context_for_profile(EU), "azure-eu").violations
    assert {(v.policy, v.resource) for v in violations} == {(policy, "eu-services-source") for policy in expected}


@pytest.mark.parametrize("switched_off", ["eventhubs", "cosmosdb", "aks"])
def test_no_writer_where_the_profile_lacks_what_it_connects(pulumi_harness: PulumiHarness, switched_off: str) -> None:
    """The writer reads Event Hubs and writes Cosmos DB on the region's cluster: without any one of them
    there is no writer identity, no role for it, nothing delivered and no ``services`` endpoint."""
    profile = EU.model_copy(update={"services": EU.services.model_copy(update={switched_off: False})})
    mocks = pulumi_harness.start("azure-eu")
    platform = pulumi_harness.run(
        lambda: RegionalPlatform("eu", RegionalPlatformArgs(profile, plan_for_profile(profile)))
    )
    assert platform.services is None
    assert not [r for r in mocks.of_type("azure-native:managedidentity:UserAssignedIdentity") if "writer" in r.name]
    assert mocks.of_type("azure-native:cosmosdb:SqlResourceSqlRoleAssignment") == []
    assert mocks.of_type("azure-native:kubernetesconfiguration:FluxConfiguration") == []
    assert pulumi_harness.value(platform.endpoints)["services"] is None
