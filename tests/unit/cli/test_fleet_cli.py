"""`autocloud fleet` as a user runs it: files and modes, reuse, and bad input as one line with exit 2."""

from __future__ import annotations

import functools
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from typer.testing import CliRunner

from autocloud.cli import app
from autocloud.operations import fleet
from autocloud.runtime import fleet_pki
from platform_model import paths
from platform_model.profiles import available_profiles
from platform_model.stack import stack_config_from_values

runner = CliRunner()


@pytest.fixture(autouse=True)
def fleet_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every command here works under a temporary state dir, never the checkout's .state."""
    folder = tmp_path / "state" / "fleet"
    monkeypatch.setattr(paths, "FLEET_DIR", folder)
    return folder


def run(*args: str) -> tuple[int, list[str]]:
    result = runner.invoke(app, ["fleet", *args], prog_name="autocloud")
    return result.exit_code, [line for line in result.output.splitlines() if line.strip()]


def test_ca_is_made_once_then_reused(fleet_dir: Path) -> None:
    code, lines = run("ca", "--region", "eu", "--days", "30")
    assert code == 0, lines
    assert lines[0] == f"fleet CA eu: created {fleet_dir / 'eu' / 'ca.pem'} (key ca-key.pem, mode 0600)"
    assert stat.S_IMODE((fleet_dir / "eu" / "ca-key.pem").stat().st_mode) == 0o600
    pem = (fleet_dir / "eu" / "ca.pem").read_bytes()

    code, lines = run("ca", "--region", "eu")
    assert code == 0, lines
    assert lines[0].startswith("fleet CA eu: reused ")
    assert (fleet_dir / "eu" / "ca.pem").read_bytes() == pem


def test_ca_for_an_unknown_region_is_one_line(fleet_dir: Path) -> None:
    known = ", ".join(available_profiles())
    assert "cn, eu" in known
    assert run("ca", "--region", "mars") == (
        2,
        [f"error: --region: 'mars' is not a region (regions come from the profiles in regions/: {known})"],
    )
    assert not fleet_dir.exists()


def test_vehicle_cert_writes_the_chain_and_a_private_key(fleet_dir: Path, tmp_path: Path) -> None:
    run("ca", "--region", "us")
    out = tmp_path / "certs"
    code, lines = run("vehicle-cert", "--region", "us", "--id", "us-car-7", "--out", str(out), "--days", "10")
    assert code == 0, lines
    assert sorted(p.name for p in out.iterdir()) == ["us-car-7-cert.pem", "us-car-7-key.pem"]
    assert stat.S_IMODE((out / "us-car-7-key.pem").stat().st_mode) == 0o600
    leaf, ca = x509.load_pem_x509_certificates((out / "us-car-7-cert.pem").read_bytes())
    assert leaf.subject.rfc4514_string() == "CN=us-car-7"
    leaf.verify_directly_issued_by(ca)
    assert ca.public_bytes(serialization.Encoding.PEM) == (fleet_dir / "us" / "ca.pem").read_bytes()


def test_vehicle_cert_with_a_bad_id_is_one_line_and_writes_nothing(tmp_path: Path) -> None:
    run("ca", "--region", "eu")
    out = tmp_path / "certs"
    code, lines = run("vehicle-cert", "--region", "eu", "--id", "Car 1", "--out", str(out))
    assert code == 2
    assert len(lines) == 1 and lines[0].startswith("error: --id: 'Car 1' is not a registration id: ")
    assert not out.exists()


def test_vehicle_cert_before_the_ca_is_one_line(fleet_dir: Path, tmp_path: Path) -> None:
    code, lines = run("vehicle-cert", "--region", "cn", "--id", "car-1", "--out", str(tmp_path / "certs"))
    assert (code, lines) == (
        2,
        [f"error: region cn has no fleet CA yet ({fleet_dir / 'cn' / 'ca.pem'}): run `autocloud fleet ca --region cn`"],
    )


def test_enroll_a_local_stack_is_one_line() -> None:
    assert run("enroll", "--stack", "local-eu") == (
        2,
        ["error: --stack local-eu targets local: enrollment groups exist on Azure DPS only"],
    )


def test_enroll_without_the_azure_cli_is_one_line(fleet_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ca = fleet_pki.ensure_ca("eu")
    config = stack_config_from_values(
        {"autocloud:region": "eu", "autocloud:target": "azure", "autocloud:fleetCaCertificate": ca.pem.decode()}, "x"
    )
    monkeypatch.setattr(fleet, "stack_config", lambda stack: config)
    outputs = {"endpoints": {"provisioning": {"device_endpoint": "dps-eu.azure-devices-provisioning.net"}}}
    monkeypatch.setattr(fleet, "enroll", functools.partial(fleet.enroll, outputs=lambda stack: outputs))
    monkeypatch.setenv("PATH", "/nonexistent")
    code, lines = run("enroll", "--stack", "azure-eu")
    assert code == 2
    assert lines == ["error: the Azure CLI (az) is not installed or not on PATH: install it, then `az login`"]
