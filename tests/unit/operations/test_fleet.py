"""The fleet PKI: each region's CA, vehicle certificates that chain to it and to no other region's, and
the DPS enrollment group request (against a fake DPS service API)."""

from __future__ import annotations

import datetime as dt
import json
import stat
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from autocloud.operations import fleet
from autocloud.runtime import fleet_pki
from platform_model import files, paths
from platform_model.profiles import available_profiles
from platform_model.stack import StackConfig, stack_config_from_values

NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture()
def fleet_dir(tmp_path: Path) -> Path:
    return tmp_path / "fleet"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def leaf_of(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificates(path.read_bytes())[0]


def cn(cert: x509.Certificate) -> str:
    value = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert isinstance(value, str)
    return value


# --- the CA ------------------------------------------------------------------------------------------


def test_ca_is_an_ec_p256_ca_naming_its_region_with_a_private_key(fleet_dir: Path) -> None:
    ca = fleet_pki.ensure_ca("eu", 100, fleet_dir=fleet_dir, now=NOW)

    assert ca.created
    assert ca.cert_path == fleet_dir / "eu" / "ca.pem"
    assert mode(fleet_dir / "eu" / "ca-key.pem") == 0o600
    assert mode(ca.cert_path) == 0o644
    cert = x509.load_pem_x509_certificate(ca.cert_path.read_bytes())
    assert cn(cert) == "autocloud fleet CA eu"
    assert cert.issuer == cert.subject
    public = cert.public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey) and public.curve.name == "secp256r1"
    constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and constraints.value.ca
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.key_cert_sign and not usage.value.digital_signature
    assert cert.not_valid_after_utc == NOW + dt.timedelta(days=100)
    key = serialization.load_pem_private_key((fleet_dir / "eu" / "ca-key.pem").read_bytes(), None)
    assert key.public_key() == public
    cert.verify_directly_issued_by(cert)


def test_existing_ca_is_reused_unchanged(fleet_dir: Path) -> None:
    first = fleet_pki.ensure_ca("eu", fleet_dir=fleet_dir, now=NOW)
    before = (first.cert_path.read_bytes(), first.key_path.read_bytes())

    again = fleet_pki.ensure_ca("eu", 5, fleet_dir=fleet_dir, now=NOW + dt.timedelta(days=1))

    assert not again.created
    assert again.certificate == first.certificate
    assert (again.cert_path.read_bytes(), again.key_path.read_bytes()) == before


def test_each_region_has_its_own_ca(fleet_dir: Path) -> None:
    eu = fleet_pki.ensure_ca("eu", fleet_dir=fleet_dir, now=NOW)
    us = fleet_pki.ensure_ca("us", fleet_dir=fleet_dir, now=NOW)
    assert eu.certificate.subject != us.certificate.subject
    assert eu.certificate.public_key() != us.certificate.public_key()


def test_unknown_region_is_refused_naming_where_regions_come_from(fleet_dir: Path) -> None:
    with pytest.raises(fleet_pki.FleetError) as raised:
        fleet_pki.ensure_ca("mars", fleet_dir=fleet_dir)
    known = ", ".join(available_profiles())
    assert str(raised.value) == (
        f"--region: 'mars' is not a region (regions come from the profiles in regions/: {known})"
    )
    assert not fleet_dir.exists()


def test_zero_days_is_refused(fleet_dir: Path) -> None:
    with pytest.raises(fleet_pki.FleetError, match="--days must be at least 1"):
        fleet_pki.ensure_ca("eu", 0, fleet_dir=fleet_dir)
    assert not fleet_dir.exists()


def test_a_failed_write_leaves_no_half_ca(fleet_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = files.write_atomically

    def fail_on_certificate(path: Path, data: str | bytes, mode: int = 0o600) -> None:
        if path.name == "ca.pem":
            raise OSError(28, "No space left on device", str(path))
        real(path, data, mode)

    monkeypatch.setattr(fleet_pki, "write_atomically", fail_on_certificate)
    with pytest.raises(OSError):
        fleet_pki.ensure_ca("eu", fleet_dir=fleet_dir, now=NOW)
    assert list((fleet_dir / "eu").iterdir()) == []


def test_a_certificate_without_its_key_is_refused(fleet_dir: Path) -> None:
    ca = fleet_pki.ensure_ca("eu", fleet_dir=fleet_dir, now=NOW)
    ca.key_path.unlink()
    with pytest.raises(fleet_pki.FleetError, match=r"ca\.pem without its key"):
        fleet_pki.ensure_ca("eu", fleet_dir=fleet_dir, now=NOW)


def test_a_key_of_another_ca_is_refused(fleet_dir: Path) -> None:
    eu = fleet_pki.ensure_ca("eu", fleet_dir=fleet_dir, now=NOW)
    us = fleet_pki.ensure_ca("us", fleet_dir=fleet_dir, now=NOW)
    eu.key_path.write_bytes(us.key_path.read_bytes())
    with pytest.raises(fleet_pki.FleetError, match="is not the key of"):
        fleet_pki.load_ca("eu", fleet_dir=fleet_dir, now=NOW)


def test_an_expired_ca_is_refused_not_silently_replaced(fleet_dir: Path) -> None:
    ca = fleet_pki.ensure_ca("eu", 10, fleet_dir=fleet_dir, now=NOW)
    with pytest.raises(fleet_pki.FleetError, match="expired on"):
        fleet_pki.ensure_ca("eu", fleet_dir=fleet_dir, now=NOW + dt.timedelta(days=11))
    still = fleet_pki.load_ca("eu", fleet_dir=fleet_dir, now=NOW)
    assert still is not None and still.certificate == ca.certificate


# --- vehicle certificates ----------------------------------------------------------------------------


def test_vehicle_certificate_has_its_id_as_cn_client_auth_and_the_ca_chain(fleet_dir: Path, tmp_path: Path) -> None:
    ca = fleet_pki.ensure_ca("eu", fleet_dir=fleet_dir, now=NOW)
    out = tmp_path / "out"

    issued = fleet_pki.issue_vehicle_cert("eu", "eu-car-000001", out, 30, fleet_dir=fleet_dir, now=NOW)

    assert issued.cert_path == out / "eu-car-000001-cert.pem"
    assert issued.key_path == out / "eu-car-000001-key.pem"
    assert mode(issued.key_path) == 0o600
    chain = x509.load_pem_x509_certificates(issued.cert_path.read_bytes())
    assert [cn(c) for c in chain] == ["eu-car-000001", "autocloud fleet CA eu"]
    leaf = chain[0]
    assert chain[1] == ca.certificate
    leaf.verify_directly_issued_by(ca.certificate)
    assert leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value == x509.ExtendedKeyUsage(
        [ExtendedKeyUsageOID.CLIENT_AUTH]
    )
    assert not leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert leaf.not_valid_after_utc == NOW + dt.timedelta(days=30)
    key = serialization.load_pem_private_key(issued.key_path.read_bytes(), None)
    assert key.public_key() == leaf.public_key()
    assert (
        fleet_pki.verify_vehicle(issued.cert_path.read_bytes(), "eu", fleet_dir=fleet_dir, now=NOW) == "eu-car-000001"
    )


@pytest.mark.parametrize("vehicle_id", ["a", "car-1", "fleet:eu.car_01", "x" * 64, "7"])
def test_registration_ids_dps_accepts(vehicle_id: str) -> None:
    assert fleet_pki.check_registration_id(vehicle_id) == vehicle_id


@pytest.mark.parametrize(
    "vehicle_id",
    ["", "Car-1", "car-", "-car", "car.", ":car", "car 1", "car/1", "x" * 65, "café", "car-1\n"],
)
def test_registration_ids_dps_refuses_are_one_line_errors(vehicle_id: str, fleet_dir: Path, tmp_path: Path) -> None:
    fleet_pki.ensure_ca("eu", fleet_dir=fleet_dir, now=NOW)
    out = tmp_path / "out"
    with pytest.raises(fleet_pki.FleetError) as raised:
        fleet_pki.issue_vehicle_cert("eu", vehicle_id, out, fleet_dir=fleet_dir, now=NOW)
    assert str(raised.value).startswith("--id: ")
    assert "\n" not in str(raised.value)
    assert not out.exists()


def test_vehicle_certificate_needs_its_region_ca(fleet_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(fleet_pki.FleetError, match="region us has no fleet CA yet"):
        fleet_pki.issue_vehicle_cert("us", "car-1", tmp_path / "out", fleet_dir=fleet_dir, now=NOW)
    assert not (tmp_path / "out").exists()


def test_vehicle_certificate_may_not_outlive_the_ca(fleet_dir: Path, tmp_path: Path) -> None:
    fleet_pki.ensure_ca("eu", 30, fleet_dir=fleet_dir, now=NOW)
    with pytest.raises(fleet_pki.FleetError, match="--days 31 outlives region eu's fleet CA"):
        fleet_pki.issue_vehicle_cert("eu", "car-1", tmp_path / "out", 31, fleet_dir=fleet_dir, now=NOW)


def test_a_failed_write_leaves_no_vehicle_files(
    fleet_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fleet_pki.ensure_ca("eu", fleet_dir=fleet_dir, now=NOW)
    real = files.write_atomically

    def fail_on_certificate(path: Path, data: str | bytes, mode: int = 0o600) -> None:
        if path.name.endswith("-cert.pem"):
            raise OSError(28, "No space left on device", str(path))
        real(path, data, mode)

    monkeypatch.setattr(fleet_pki, "write_atomically", fail_on_certificate)
    out = tmp_path / "out"
    with pytest.raises(OSError):
        fleet_pki.issue_vehicle_cert("eu", "car-1", out, fleet_dir=fleet_dir, now=NOW)
    assert list(out.iterdir()) == []


# --- a region's vehicles only --------------------------------------------------------------------------


def test_a_us_region_refuses_an_eu_vehicle_and_accepts_its_own(fleet_dir: Path, tmp_path: Path) -> None:
    fleet_pki.ensure_ca("eu", fleet_dir=fleet_dir, now=NOW)
    fleet_pki.ensure_ca("us", fleet_dir=fleet_dir, now=NOW)
    eu_car = fleet_pki.issue_vehicle_cert("eu", "car-1", tmp_path / "eu", fleet_dir=fleet_dir, now=NOW)
    us_car = fleet_pki.issue_vehicle_cert("us", "car-1", tmp_path / "us", fleet_dir=fleet_dir, now=NOW)

    assert fleet_pki.verify_vehicle(eu_car.cert_path.read_text(), "eu", fleet_dir=fleet_dir, now=NOW) == "car-1"
    assert fleet_pki.verify_vehicle(us_car.cert_path.read_text(), "us", fleet_dir=fleet_dir, now=NOW) == "car-1"
    refused = "issued by 'autocloud fleet CA eu', not region us's fleet CA 'autocloud fleet CA us'"
    with pytest.raises(fleet_pki.VehicleRejected, match=refused):
        fleet_pki.verify_vehicle(eu_car.cert_path.read_bytes(), "us", fleet_dir=fleet_dir, now=NOW)
    with pytest.raises(fleet_pki.VehicleRejected, match="not region eu's fleet CA"):
        fleet_pki.verify_vehicle(us_car.cert_path.read_bytes(), "eu", fleet_dir=fleet_dir, now=NOW)


def test_a_ca_that_only_copies_the_region_name_is_refused(fleet_dir: Path) -> None:
    fleet_pki.ensure_ca("eu", fleet_dir=fleet_dir, now=NOW)
    impostor = ec.generate_private_key(ec.SECP256R1())
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    forged = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "car-1")]))
        .issuer_name(fleet_pki.ca_subject("eu"))
        .public_key(leaf_key.public_key())
        .serial_number(1)
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=1))
        .sign(impostor, hashes.SHA256())
    )
    with pytest.raises(fleet_pki.VehicleRejected, match="is not signed by region eu's fleet CA"):
        fleet_pki.verify_vehicle([forged], "eu", fleet_dir=fleet_dir, now=NOW)


def test_an_expired_vehicle_certificate_is_refused(fleet_dir: Path, tmp_path: Path) -> None:
    fleet_pki.ensure_ca("eu", fleet_dir=fleet_dir, now=NOW)
    car = fleet_pki.issue_vehicle_cert("eu", "car-1", tmp_path / "out", 1, fleet_dir=fleet_dir, now=NOW)
    with pytest.raises(fleet_pki.VehicleRejected, match="certificate of car-1 refused"):
        fleet_pki.verify_vehicle(car.cert_path.read_bytes(), "eu", fleet_dir=fleet_dir, now=NOW + dt.timedelta(days=2))


def test_garbage_is_refused(fleet_dir: Path) -> None:
    fleet_pki.ensure_ca("eu", fleet_dir=fleet_dir, now=NOW)
    with pytest.raises(fleet_pki.VehicleRejected, match="not a PEM certificate chain"):
        fleet_pki.verify_vehicle(b"not a certificate", "eu", fleet_dir=fleet_dir, now=NOW)


# --- enrollment ----------------------------------------------------------------------------------------


@dataclass
class FakeDps:
    """DPS's service API for one enrollment group, as far as `enroll` uses it: GET and PUT."""

    existing: dict[str, Any] | None = None
    status: int | None = None
    """Answer every request with this status (an error) instead."""
    requests: list[tuple[str, str, dict[str, str], Any]] = field(default_factory=list)
    url: str = ""


@pytest.fixture()
def fake_dps() -> Iterator[FakeDps]:
    state = FakeDps()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def answer(self, code: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def record(self) -> Any:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            state.requests.append((self.command, self.path, dict(self.headers.items()), body))
            return body

        def do_GET(self) -> None:
            self.record()
            if state.status is not None:
                self.answer(state.status, {"errorCode": state.status * 1000, "message": "Unauthorized"})
            elif state.existing is None:
                self.answer(404, {"errorCode": 404202, "message": "Enrollment group not found"})
            else:
                self.answer(200, state.existing)

        def do_PUT(self) -> None:
            body = self.record()
            state.existing = dict(body, etag='"2"')
            self.answer(200, state.existing)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


DPS_HOST = "dps-eu-1a2b.azure-devices-provisioning.net"
OUTPUTS = {"endpoints": {"provisioning": {"device_endpoint": DPS_HOST, "id_scope": "0ne00000001"}}}


def azure_config(ca_pem: str | None) -> StackConfig:
    values: dict[str, Any] = {"autocloud:region": "eu", "autocloud:target": "azure"}
    if ca_pem is not None:
        values["autocloud:fleetCaCertificate"] = ca_pem
    return stack_config_from_values(values, "stacks/Pulumi.azure-eu.yaml")


@pytest.fixture()
def enrolled_stack(fleet_dir: Path, monkeypatch: pytest.MonkeyPatch) -> fleet_pki.FleetCa:
    """azure-eu configured with the region's local fleet CA, that CA under a temporary state dir."""
    ca = fleet_pki.ensure_ca("eu", fleet_dir=fleet_dir)
    monkeypatch.setattr(paths, "FLEET_DIR", fleet_dir)
    monkeypatch.setattr(fleet, "stack_config", lambda stack: azure_config(ca.pem.decode()))
    return ca


def test_enroll_creates_the_group_with_the_documented_request(
    enrolled_stack: fleet_pki.FleetCa, fake_dps: FakeDps
) -> None:
    audiences: list[str] = []

    def token(resource: str) -> str:
        audiences.append(resource)
        return "entra-token"

    [done] = fleet.enroll("azure-eu", outputs=lambda stack: OUTPUTS, token=token, base_url=fake_dps.url)

    assert done == fleet.Enrollment("azure-eu", DPS_HOST, "fleet", "created")
    assert audiences == ["https://azure-devices-provisioning.net"]
    (get_method, get_path, _, _), (method, path, headers, body) = fake_dps.requests
    assert (get_method, get_path) == ("GET", "/enrollmentGroups/fleet?api-version=2021-10-01")
    assert (method, path) == ("PUT", "/enrollmentGroups/fleet?api-version=2021-10-01")
    assert headers["Authorization"] == "Bearer entra-token"
    assert headers["Content-Type"] == "application/json"
    assert "If-Match" not in headers
    assert body == {
        "enrollmentGroupId": "fleet",
        "attestation": {"type": "x509", "x509": {"caReferences": {"primary": "fleet-ca"}}},
        "allocationPolicy": "hashed",
        "provisioningStatus": "enabled",
        "reprovisionPolicy": {"updateHubAssignment": True, "migrateDeviceData": True},
        "capabilities": {"iotEdge": False},
    }


def test_enroll_again_updates_the_group_under_its_etag(enrolled_stack: fleet_pki.FleetCa, fake_dps: FakeDps) -> None:
    fake_dps.existing = dict(fleet.enrollment_group_body(), allocationPolicy="static", etag='"7"')

    [done] = fleet.enroll("azure-eu", outputs=lambda stack: OUTPUTS, token=lambda r: "t", base_url=fake_dps.url)

    assert done.action == "updated"
    _, (method, _, headers, body) = fake_dps.requests
    assert method == "PUT"
    assert headers["If-Match"] == '"7"'
    assert body["etag"] == '"7"'
    assert body["allocationPolicy"] == "hashed"


def test_enroll_without_the_data_role_names_the_role(enrolled_stack: fleet_pki.FleetCa, fake_dps: FakeDps) -> None:
    fake_dps.status = 403
    with pytest.raises(fleet.EnrollmentError) as raised:
        fleet.enroll("azure-eu", outputs=lambda stack: OUTPUTS, token=lambda r: "t", base_url=fake_dps.url)
    message = str(raised.value)
    assert message.startswith(f"DPS {DPS_HOST} refused GET (403): 'Unauthorized'")
    assert "'Device Provisioning Service Data Contributor' role" in message


def test_enroll_needs_the_stack_fleet_ca(fleet_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fleet, "stack_config", lambda stack: azure_config(None))
    with pytest.raises(fleet_pki.FleetError, match="autocloud:fleetCaCertificate is not set"):
        fleet.enroll("azure-eu", outputs=lambda stack: OUTPUTS, token=lambda r: "t")


def test_enroll_warns_when_the_stack_trusts_another_ca(
    enrolled_stack: fleet_pki.FleetCa, fleet_dir: Path, fake_dps: FakeDps, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = fleet_pki.ensure_ca("us", fleet_dir=fleet_dir)
    monkeypatch.setattr(fleet, "stack_config", lambda stack: azure_config(other.pem.decode()))
    warnings: list[str] = []
    fleet.enroll(
        "azure-eu", outputs=lambda stack: OUTPUTS, token=lambda r: "t", base_url=fake_dps.url, warn=warnings.append
    )
    assert len(warnings) == 1 and "will not be accepted by this DPS" in warnings[0]


def test_enroll_needs_a_deployed_dps(enrolled_stack: fleet_pki.FleetCa) -> None:
    with pytest.raises(fleet_pki.FleetError, match=r"exports no endpoints\.provisioning\.device_endpoint"):
        fleet.enroll("azure-eu", outputs=lambda stack: {"region": "eu"}, token=lambda r: "t")


def test_azure_china_tokens_are_for_the_china_dps_audience() -> None:
    assert fleet.dps_token_resource("dps-cn.azure-devices-provisioning.cn") == "https://azure-devices-provisioning.cn"
    assert fleet.dps_token_resource(DPS_HOST) == "https://azure-devices-provisioning.net"


def test_a_missing_azure_cli_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(fleet_pki.FleetError, match=r"^the Azure CLI \(az\) is not installed or not on PATH"):
        fleet.az_access_token("https://azure-devices-provisioning.net")


def test_an_azure_cli_not_logged_in_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    az = tmp_path / "az"
    az.write_text("#!/bin/sh\necho \"ERROR: Please run 'az login' to setup account.\" >&2\nexit 1\n")
    az.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(fleet_pki.FleetError) as raised:
        fleet.az_access_token("https://azure-devices-provisioning.net")
    assert str(raised.value) == (
        "az could not get a token for https://azure-devices-provisioning.net "
        "(\"ERROR: Please run 'az login' to setup account.\"): run `az login` "
        "(for Azure China, `az cloud set --name AzureChinaCloud` first)"
    )


def test_the_azure_cli_token_is_asked_for_the_dps_audience(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    az = tmp_path / "az"
    az.write_text(f'#!/bin/sh\necho "$@" > {tmp_path}/args\necho token-123\n')
    az.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert fleet.az_access_token("https://azure-devices-provisioning.net") == "token-123"
    assert (tmp_path / "args").read_text().split() == [
        "account",
        "get-access-token",
        "--resource",
        "https://azure-devices-provisioning.net",
        "--query",
        "accessToken",
        "--output",
        "tsv",
    ]


def test_each_brand_with_its_own_ca_gets_its_own_group(
    fleet_dir: Path, fake_dps: FakeDps, monkeypatch: pytest.MonkeyPatch
) -> None:
    region = fleet_pki.ensure_ca("eu", fleet_dir=fleet_dir)
    brand_ca = fleet_pki.ensure_ca("us", fleet_dir=fleet_dir)  # any other CA stands for the brand's
    monkeypatch.setattr(paths, "FLEET_DIR", fleet_dir)
    brands = [{"name": "acme", "vehicles": 1000, "fleetCa": brand_ca.pem.decode()}, {"name": "zen", "vehicles": 500}]
    config = stack_config_from_values(
        {
            "autocloud:region": "eu",
            "autocloud:target": "azure",
            "autocloud:fleetCaCertificate": region.pem.decode(),
            "autocloud:brands": json.dumps(brands),
        },
        "stacks/Pulumi.azure-eu.yaml",
    )
    monkeypatch.setattr(fleet, "stack_config", lambda stack: config)

    done = fleet.enroll("azure-eu", outputs=lambda stack: OUTPUTS, token=lambda r: "t", base_url=fake_dps.url)

    assert [(d.group, d.ca_name) for d in done] == [("fleet", "fleet-ca"), ("fleet-acme", "fleet-ca-acme")]
    puts = [(path, body) for method, path, _, body in fake_dps.requests if method == "PUT"]
    assert [path for path, _ in puts] == [
        "/enrollmentGroups/fleet?api-version=2021-10-01",
        "/enrollmentGroups/fleet-acme?api-version=2021-10-01",
    ]
    assert puts[1][1]["enrollmentGroupId"] == "fleet-acme"
    assert puts[1][1]["attestation"]["x509"]["caReferences"] == {"primary": "fleet-ca-acme"}
