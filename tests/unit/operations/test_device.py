"""The vehicle side of the device path, without a network: DPS answer topics, user names, TLS settings,
and the simulated vehicles' cached certificates."""

from __future__ import annotations

import datetime as dt
import ssl
from pathlib import Path

import pytest

from autocloud.operations import device
from autocloud.runtime import fleet_pki
from platform_model.stack import FLEET_CA_KEY, resolve_stack


def test_dps_answer_topics_give_status_and_retry_after() -> None:
    assert device._status("$dps/registrations/res/202/?$rid=1&retry-after=3") == (
        202,
        {"$rid": "1", "retry-after": "3"},
    )
    assert device._status("$dps/registrations/res/200/?$rid=2") == (200, {"$rid": "2"})


def test_user_names_follow_dps_and_iot_hub() -> None:
    assert device.dps_username("0ne00000A0A", "eu-car-1") == "0ne00000A0A/registrations/eu-car-1/api-version=2019-03-31"
    assert (
        device.hub_username("hub.azure-devices.net", "eu-car-1")
        == "hub.azure-devices.net/eu-car-1/?api-version=2021-04-12"
    )


def test_tls_context_presents_the_vehicle_chain_and_needs_tls_12(tmp_path: Path) -> None:
    fleet_pki.ensure_ca("eu", fleet_dir=tmp_path)
    credentials = fleet_pki.vehicle_credentials("eu", "eu-car-1", fleet_dir=tmp_path)
    context = device.tls_context(credentials, fleet_pki.load_ca("eu", fleet_dir=tmp_path).pem.decode())  # type: ignore[union-attr]
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2
    assert context.check_hostname and context.verify_mode == ssl.CERT_REQUIRED


def test_vehicle_certificates_are_kept_and_reissued_when_the_ca_changes(tmp_path: Path) -> None:
    fleet_pki.ensure_ca("eu", fleet_dir=tmp_path)
    first = fleet_pki.vehicle_credentials("eu", "eu-car-1", fleet_dir=tmp_path)
    assert first.cert_path.parent == tmp_path / "eu" / "vehicles"
    assert first.key_path.stat().st_mode & 0o777 == 0o600
    again = fleet_pki.vehicle_credentials("eu", "eu-car-1", fleet_dir=tmp_path)
    assert again.cert_path.read_bytes() == first.cert_path.read_bytes(), "reused while valid"
    near_end = first.not_after - dt.timedelta(hours=12)
    renewed = fleet_pki.vehicle_credentials("eu", "eu-car-1", fleet_dir=tmp_path, now=near_end)
    assert renewed.not_after > first.not_after, "reissued within a day of its end"
    for name in ("ca.pem", "ca-key.pem"):
        (tmp_path / "eu" / name).unlink()
    fleet_pki.ensure_ca("eu", fleet_dir=tmp_path)
    replaced = fleet_pki.vehicle_credentials("eu", "eu-car-1", fleet_dir=tmp_path)
    fleet_pki.verify_vehicle(replaced.cert_path.read_bytes(), "eu", fleet_dir=tmp_path)


def test_local_stacks_run_with_their_regions_fleet_ca(tmp_path: Path) -> None:
    local = resolve_stack("local-eu")
    made = fleet_pki.local_run_config(local, fleet_dir=tmp_path)
    assert made == {FLEET_CA_KEY: (tmp_path / "eu" / "ca.pem").read_text()}
    assert fleet_pki.local_run_config(local, fleet_dir=tmp_path, create=False) == made, "a check uses the same CA"
    assert fleet_pki.local_run_config(resolve_stack("azure-eu"), fleet_dir=tmp_path) == {}


def test_a_check_makes_no_ca_on_this_machine(tmp_path: Path) -> None:
    config = fleet_pki.local_run_config(resolve_stack("local-us"), fleet_dir=tmp_path, create=False)
    assert config[FLEET_CA_KEY].startswith("-----BEGIN CERTIFICATE-----")
    assert not (tmp_path / "us").exists()


@pytest.mark.parametrize("detail", ["", "tlsv13 alert certificate required"])
def test_a_refusal_reads_as_one_line(detail: str) -> None:
    refused = device.RegistrationRefused("the hub refused the vehicle", detail)
    assert refused.reason == "the hub refused the vehicle"
    assert "\n" not in str(refused)
