"""A brand's own fleet CA in its region: where it lives, what it signs, and how a local stack comes to trust it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography import x509

from autocloud.runtime import fleet_pki
from platform_model.stack import (
    BRANDS_KEY,
    FLEET_CA_KEY,
    VEHICLES_KEY,
    ResolvedStack,
    resolve_values,
    stack_file_values,
)


def _local_eu_with_brands(*brands: dict[str, object], overrides: dict[str, str] | None = None) -> ResolvedStack:
    values, source = stack_file_values("local-eu")
    values = {k: v for k, v in values.items() if k != VEHICLES_KEY} | {BRANDS_KEY: list(brands)}
    return resolve_values("local-eu", values, source, overrides)


def test_a_brand_ca_is_its_own_beside_the_regions(tmp_path: Path) -> None:
    region = fleet_pki.ensure_ca("eu", fleet_dir=tmp_path)
    brand = fleet_pki.ensure_ca("eu", fleet_dir=tmp_path, brand="alpha")
    assert brand.cert_path == tmp_path / "eu" / "brands" / "alpha" / "ca.pem"
    assert brand.certificate.subject != region.certificate.subject
    assert "alpha" in brand.certificate.subject.rfc4514_string()
    assert fleet_pki.ensure_ca("eu", fleet_dir=tmp_path, brand="alpha").created is False, "reused"
    # The region's CA files do not pass for the brand's: the subject names its owner.
    (tmp_path / "eu" / "brands" / "beta").mkdir()
    for name in ("ca.pem", "ca-key.pem"):
        (tmp_path / "eu" / "brands" / "beta" / name).write_bytes((tmp_path / "eu" / name).read_bytes())
    with pytest.raises(fleet_pki.FleetError, match="not brand beta's fleet CA in region eu"):
        fleet_pki.load_ca("eu", fleet_dir=tmp_path, brand="beta")


def test_a_brand_ca_signs_only_its_brands_vehicles(tmp_path: Path) -> None:
    ca = fleet_pki.ensure_ca("eu", fleet_dir=tmp_path, brand="alpha")
    issued = fleet_pki.issue_vehicle_cert("eu", "alpha-car-1", tmp_path / "out", fleet_dir=tmp_path, brand="alpha")
    leaf = x509.load_pem_x509_certificates(issued.cert_path.read_bytes())[0]
    leaf.verify_directly_issued_by(ca.certificate)
    with pytest.raises(fleet_pki.FleetError, match="its CA signs only ids starting alpha-"):
        fleet_pki.issue_vehicle_cert("eu", "beta-car-1", tmp_path / "out", fleet_dir=tmp_path, brand="alpha")
    with pytest.raises(fleet_pki.FleetError, match="--brand: 'Alpha'"):
        fleet_pki.ensure_ca("eu", fleet_dir=tmp_path, brand="Alpha")


def test_simulated_vehicles_of_a_brand_use_its_ca_where_it_has_one(tmp_path: Path) -> None:
    region = fleet_pki.ensure_ca("eu", fleet_dir=tmp_path)
    beta = fleet_pki.vehicle_credentials("eu", "beta-vehicle-000001", fleet_dir=tmp_path, brand="beta")
    assert beta.cert_path.parent == tmp_path / "eu" / "vehicles", "no CA of its own: the region's signs"
    x509.load_pem_x509_certificates(beta.cert_path.read_bytes())[0].verify_directly_issued_by(region.certificate)
    alpha_ca = fleet_pki.ensure_ca("eu", fleet_dir=tmp_path, brand="alpha")
    alpha = fleet_pki.vehicle_credentials("eu", "alpha-vehicle-000001", fleet_dir=tmp_path, brand="alpha")
    assert alpha.cert_path.parent == tmp_path / "eu" / "brands" / "alpha" / "vehicles"
    x509.load_pem_x509_certificates(alpha.cert_path.read_bytes())[0].verify_directly_issued_by(alpha_ca.certificate)


def test_a_local_stack_trusts_the_brand_cas_made_here_unless_its_file_names_one(tmp_path: Path) -> None:
    stack = _local_eu_with_brands({"name": "alpha", "vehicles": 10}, {"name": "beta", "vehicles": 10})
    assert BRANDS_KEY not in fleet_pki.local_run_config(stack, fleet_dir=tmp_path), "no brand CA made yet"
    alpha = fleet_pki.ensure_ca("eu", fleet_dir=tmp_path, brand="alpha")
    run = fleet_pki.local_run_config(stack, fleet_dir=tmp_path)
    assert run[FLEET_CA_KEY] == (tmp_path / "eu" / "ca.pem").read_text()
    assert json.loads(run[BRANDS_KEY]) == [
        {"name": "alpha", "vehicles": 10, "fleetCa": alpha.pem.decode()},
        {"name": "beta", "vehicles": 10},
    ]
    named = _local_eu_with_brands({"name": "alpha", "vehicles": 10, "fleetCa": alpha.pem.decode()})
    assert BRANDS_KEY not in fleet_pki.local_run_config(named, fleet_dir=tmp_path), "the file's CA stands"
    overridden = _local_eu_with_brands(
        {"name": "alpha", "vehicles": 10}, {"name": "beta", "vehicles": 10}, overrides=run
    )
    assert [b.fleet_ca for b in overridden.config.brands] == [alpha.pem.decode(), None]
