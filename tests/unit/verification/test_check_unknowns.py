"""Property: for every location-bearing input the rules read, a program that sets it from an output
gets the value a preview would know, judged, or "cannot verify"; never "outside" on an unknown, never
"not set", never a Python repr. Each program runs in-process under the check's runner."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from autocloud.verification.check.command import views_from_records
from autocloud.verification.check.runner import record_program
from autocloud.verification.check.targets import Target
from autocloud.verification.common import all_packs
from platform_model.paths import REPO_ROOT
from platform_model.profiles import load_profile
from policies.config import context_for_profile

HEADER = """
import pulumi
import pulumi_azure_native as an

TAGS = {"region": "eu", "data-residency": "eu", "data-classification": "vehicle-data"}
group = an.resources.ResourceGroup("group", location="westeurope", tags=TAGS)
probe = an.storage.StorageAccount("probe", resource_group_name=group.name, location="westeurope",
    kind="StorageV2", sku={"name": "Standard_ZRS"}, tags=TAGS)
west = an.Provider("west", location="westeurope")
east = an.Provider("east", location="eastus")
home = an.resources.ResourceGroup("home", tags=TAGS, opts=pulumi.ResourceOptions(provider=west))
away = an.resources.ResourceGroup("away", tags=TAGS, opts=pulumi.ResourceOptions(provider=east))
"""

#: Where the location comes from -> what the check must then say about it.
SOURCES = {
    "unknown": "probe.primary_location",  # computed by Azure: unknown at preview
    "inside": "home.location",  # the provider's westeurope, filled in by azure-native's Check
    "outside": "away.location",  # the provider's eastus
}

#: One program per location-bearing input the rules read: (declaration with LOCATION, the resource
#: a finding is reported on).
INPUTS: dict[str, tuple[str, str]] = {
    "resource location": (
        'an.network.VirtualNetwork("subject", resource_group_name=group.name, location=LOCATION, '
        'address_space={"address_prefixes": ["10.9.0.0/16"]}, tags=TAGS)',
        "subject",
    ),
    "resource group location": ('an.resources.ResourceGroup("subject", location=LOCATION, tags=TAGS)', "subject"),
    "provider location": (
        'p = an.Provider("subject", location=LOCATION)\n'
        'an.resources.ResourceGroup("g2", tags=TAGS, opts=pulumi.ResourceOptions(provider=p))',
        "g2",
    ),
    "group location inherited": (
        'g2 = an.resources.ResourceGroup("g2", location=LOCATION, tags=TAGS)\n'
        'an.network.NetworkSecurityGroup("subject", resource_group_name=g2.name, tags=TAGS)',
        "subject",
    ),
    "storage location (redundancy)": (
        'an.storage.StorageAccount("subject", resource_group_name=group.name, location=LOCATION, '
        'kind="StorageV2", sku={"name": "Standard_GRS"}, tags=TAGS)',
        "subject",
    ),
    "cosmos replica locationName": (
        'an.cosmosdb.DatabaseAccount("subject", resource_group_name=group.name, location="westeurope", '
        'database_account_offer_type="Standard", locations=[{"location_name": LOCATION, "failover_priority": 0}], '
        "tags=TAGS)",
        "subject",
    ),
    "maps data-processing locationName": (
        'an.maps.Account("subject", resource_group_name=group.name, location="westeurope", sku={"name": "G2"}, '
        'properties={"locations": [{"location_name": LOCATION}]}, tags=TAGS)',
        "subject",
    ),
    "DPS linked hub location": (
        'an.deviceprovisioningservices.IotDpsResource("subject", resource_group_name=group.name, '
        'location="westeurope", sku={"name": "S1", "capacity": 1}, properties={"iot_hubs": '
        '[{"location": LOCATION, "connection_string": "HostName=h.azure-devices.net;SharedAccessKeyName=k;'
        'SharedAccessKey=x"}]}, tags=TAGS)',
        "subject",
    ),
    "geo-DR partner namespace location": (
        'ns = an.eventhub.Namespace("partner", resource_group_name=group.name, location=LOCATION, '
        'sku={"name": "Standard"}, tags=TAGS)\n'
        'an.eventhub.DisasterRecoveryConfig("subject", resource_group_name=group.name, namespace_name="primary", '
        "partner_namespace=ns.id)",
        "subject",
    ),
    "capture storage location": (
        'sa = an.storage.StorageAccount("capture", resource_group_name=group.name, location=LOCATION, '
        'kind="StorageV2", sku={"name": "Standard_ZRS"}, tags=TAGS)\n'
        'an.eventhub.EventHub("subject", resource_group_name=group.name, namespace_name="ns", '
        'capture_description={"enabled": True, "encoding": "Avro", "destination": {'
        '"name": "EventHubArchive.AzureBlockBlob", "storage_account_resource_id": sa.id, "blob_container": "c", '
        '"archive_name_format": "{Namespace}"}})',
        "subject",
    ),
    "routing endpoint target location": (
        'ns = an.eventhub.Namespace("target", resource_group_name=group.name, location=LOCATION, '
        'sku={"name": "Standard"}, tags=TAGS)\n'
        'an.iothub.IotHubResource("subject", resource_group_name=group.name, location="westeurope", '
        'sku={"name": "S1", "capacity": 1}, properties={"routing": {"endpoints": {"event_hubs": [{"name": "e", '
        '"endpoint_uri": ns.name.apply(lambda n: f"sb://{n}.servicebus.windows.net"), "entity_path": "t"}]}}}, '
        "tags=TAGS)",
        "subject",
    ),
    "diagnostic destination location": (
        'ws = an.operationalinsights.Workspace("logs", resource_group_name=group.name, location=LOCATION, tags=TAGS)\n'
        'an.monitor.DiagnosticSetting("subject", resource_uri=probe.id, workspace_id=ws.id)',
        "subject",
    ),
}

REPR_MARKS = ("object at 0x", "pulumi.output", "<unknown")


def _judge(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str, declaration: str) -> list[dict[str, Any]]:
    program = tmp_path / "program"
    program.mkdir()
    (program / "__main__.py").write_text(HEADER + declaration.replace("LOCATION", SOURCES[source]) + "\n")
    monkeypatch.chdir(program)
    monkeypatch.setattr("sys.path", list(sys.path))
    records, located = record_program(program, "p", "dev")
    ctx = context_for_profile(load_profile("eu", REPO_ROOT))
    target = Target("p", program, "p", "dev", {}, ctx)
    views = views_from_records(records, target, located)
    return [v.as_dict() for v in all_packs().run(views, ctx).violations]


@pytest.mark.parametrize("source", list(SOURCES))
@pytest.mark.parametrize("case", list(INPUTS))
def test_a_location_from_an_output_is_resolved_or_cannot_be_verified(
    case: str, source: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pulumi_harness: Any
) -> None:
    declaration, subject = INPUTS[case]
    found = _judge(tmp_path, monkeypatch, source, declaration)
    assert not any(mark in json.dumps(found) for mark in REPR_MARKS)
    residency = [v for v in found if v["resource"] == subject and v["pack"] == "residency"]
    if source == "unknown":
        assert residency, "an unknown location must be reported as unverified"
        assert all(v["enforcement"] == "advisory" and "cannot verify" in v["detail"] for v in residency)
        assert not any("not set" in v["detail"] or "outside" in v["detail"] for v in residency)
    elif source == "inside":
        assert residency == []
    else:
        mandatory = [v for v in residency if v["enforcement"] == "mandatory"]
        assert mandatory and all("eastus" in v["detail"] or "westus" in v["detail"] for v in mandatory)
