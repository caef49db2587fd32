"""The fleet PKI of each region: its CA, the vehicles' certificates, and its DPS enrollment group.

A region's vehicles authenticate with X.509 only. Each region has its own fleet CA under
``.state/fleet/<region>/`` (``platform_model.paths.FLEET_DIR``); a vehicle's certificate names its
registration id as subject CN and chains to its region's CA, and to no other (:func:`verify_vehicle`).
On Azure the stack registers that CA with the region's DPS (``autocloud:fleetCaCertificate``, verified
on upload) and :func:`enroll` points a DPS enrollment group at it.

Keys are EC P-256. IoT Hub accepts any X.509 client certificate "including ECC" ("For certificate-based
authentication, this can be any X.509 certificate, including ECC",
https://learn.microsoft.com/azure/iot-hub/iot-hub-tls-support#device-authentication), and DPS attests the
same chain before it hands the vehicle to a hub (https://learn.microsoft.com/azure/iot-dps/concepts-x509-attestation);
RSA would serve as well, at a larger key and handshake on the vehicle.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from cryptography.x509.verification import Criticality, ExtensionPolicy, PolicyBuilder, Store, VerificationError

from components.contracts import FLEET_CA_NAME
from platform_model import paths
from platform_model.errors import AutocloudError, InputError, excerpt
from platform_model.files import write_atomically
from platform_model.locations import DNS
from platform_model.profiles import available_profiles, load_profile
from platform_model.stack import CONFIG_NAMESPACE, stack_config

CA_VALIDITY_DAYS = 3650
"""Default lifetime of a new fleet CA (``autocloud fleet ca --days``). Every vehicle certificate must be
reissued when the CA is replaced, so it outlives many vehicle certificates."""
VEHICLE_VALIDITY_DAYS = 365
"""Default lifetime of a vehicle certificate (``autocloud fleet vehicle-cert --days``)."""
CLOCK_SKEW = dt.timedelta(minutes=5)
"""Certificates start this long before they are made, so a vehicle whose clock runs behind accepts them."""

CA_CERT = "ca.pem"
CA_KEY = "ca-key.pem"
PUBLIC_MODE = 0o644
PRIVATE_MODE = 0o600

REGISTRATION_ID = re.compile(r"^[a-z0-9](?:[a-z0-9._:-]{0,62}[a-z0-9])?$")
"""A vehicle's DPS registration id, which is also its certificate's subject CN and its IoT Hub device id.

"Leaf certificates used with Individual enrollment or Enrollment group entries must have the subject
common name (CN) set to the registration ID ... The registration ID is a case-insensitive string of
alphanumeric characters plus the special characters: '-', '.', '_', ':'. The last character must be
alphanumeric or dash ('-') ... the maximum length of the subject common name in an X.509 certificate is 64
characters. The registration ID, therefore, is limited to 64 characters when using X.509 certificates."
"For enrollment groups, the subject common name (CN) also sets the device ID that is registered with IoT
Hub." (https://learn.microsoft.com/azure/iot-dps/concepts-x509-attestation, "End-entity leaf certificate").
The device registration API is stricter on both ends and on case: "No special characters allowed at start
or end", and in the request path "The registration ID is alphanumeric, lowercase, and may contain hyphens"
(https://learn.microsoft.com/rest/api/iot-dps/device/runtime-registration/register-device). So an id here
is lowercase and starts and ends alphanumeric: one spelling for the case-insensitive registration and the
case-sensitive hub device id."""
REGISTRATION_ID_RULE = (
    "1 to 64 lowercase letters, digits and - . _ : starting and ending with a letter or digit "
    "(the DPS registration id, also the certificate's CN and the IoT Hub device id)"
)

DPS_API_VERSION = "2021-10-01"
"""DPS service API version. The stable spec (Azure/azure-rest-api-specs, specification/
deviceprovisioningservices/data-plane/DeviceProvisioningServices/stable/2021-10-01/service.json) has
EnrollmentGroup_CreateOrUpdate as ``PUT /enrollmentGroups/{id}`` with an optional ``If-Match`` ETag and
EnrollmentGroup_Get as ``GET`` on the same path, on host ``https://{dpsName}.azure-devices-provisioning.net``;
the REST reference names the version: "Supported versions include: 2021-10-01"
(https://learn.microsoft.com/rest/api/iot-dps/service/enrollment-group/get)."""
DPS_DATA_ROLE = "Device Provisioning Service Data Contributor"
"""The built-in role that may write enrollment groups with an Entra ID token: "Allows for full access to
Device Provisioning Service data-plane operations" (needs Microsoft.Devices/provisioningServices/
enrollmentGroups/write; https://learn.microsoft.com/azure/iot-dps/concepts-control-access-dps-azure-ad)."""
ENROLLMENT_GROUP = "fleet"
"""The region's enrollment group id: one group per region, trusting the region's fleet CA."""
HTTP_TIMEOUT_S = 30.0


class FleetError(InputError):
    """Bad input for the fleet PKI (region, id, files, stack); one line, exit 2."""


class EnrollmentError(AutocloudError):
    """DPS refused or could not be reached; one line, exit 1."""


class VehicleRejected(AutocloudError):
    """A vehicle certificate this region must not accept (another region's CA, expired, wrong usage)."""


# --- the region's CA ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class FleetCa:
    region: str
    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey
    cert_path: Path
    key_path: Path
    created: bool
    """Whether this call made the CA (False: an existing one was reused)."""

    @property
    def pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    @property
    def fingerprint(self) -> str:
        return self.certificate.fingerprint(hashes.SHA256()).hex(":").upper()


def ca_subject(region: str) -> x509.Name:
    """The fleet CA's subject: the region is in its name, so a certificate says whose vehicles it signs."""
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "autocloud"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"autocloud fleet CA {region}"),
        ]
    )


def check_region(region: str) -> str:
    """``region`` if it names a region profile (``regions/<region>.yaml``), else a one-line FleetError."""
    known = available_profiles()
    if region not in known:
        raise FleetError(
            f"--region: {excerpt(region)} is not a region (regions come from the profiles in regions/: "
            f"{', '.join(known) or 'none'})"
        )
    return region


def region_dir(region: str, fleet_dir: Path | None = None) -> Path:
    return (fleet_dir or paths.FLEET_DIR) / region


def ensure_ca(
    region: str, days: int = CA_VALIDITY_DAYS, *, fleet_dir: Path | None = None, now: dt.datetime | None = None
) -> FleetCa:
    """The region's fleet CA: the one under ``.state/fleet/<region>/`` if it is whole and valid, else a new
    one (EC P-256, CA basic constraints, keyCertSign). Both files are written atomically, the key first
    (0600), the certificate last: a failure removes what this call wrote, so no half CA is left."""
    check_region(region)
    if days < 1:
        raise FleetError(f"--days must be at least 1, not {days}")
    now = now or dt.datetime.now(dt.UTC)
    folder = region_dir(region, fleet_dir)
    existing = load_ca(region, fleet_dir=fleet_dir, now=now, missing_ok=True)
    if existing is not None:
        return existing
    key = ec.generate_private_key(ec.SECP256R1())
    subject = ca_subject(region)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(now + dt.timedelta(days=days))
        # pathlen 0: this CA signs vehicles, never another CA.
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / CA_CERT, folder / CA_KEY
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    _write_pair(key_path, _key_pem(key), cert_path, certificate.public_bytes(serialization.Encoding.PEM))
    return FleetCa(region, certificate, key, cert_path, key_path, created=True)


def load_ca(
    region: str, *, fleet_dir: Path | None = None, now: dt.datetime | None = None, missing_ok: bool = False
) -> FleetCa | None:
    """The region's existing fleet CA, checked whole: both files, the key matching the certificate, this
    region's subject, still valid. None if neither file exists and ``missing_ok``."""
    folder = region_dir(region, fleet_dir)
    cert_path, key_path = folder / CA_CERT, folder / CA_KEY
    present = [p for p in (cert_path, key_path) if p.exists()]
    if not present:
        if missing_ok:
            return None
        raise FleetError(
            f"region {region} has no fleet CA yet ({cert_path}): run `autocloud fleet ca --region {region}`"
        )
    if len(present) == 1:
        raise FleetError(
            f"{folder}: {present[0].name} without its {'key' if present[0] == cert_path else 'certificate'}; "
            f"remove {folder} and run `autocloud fleet ca --region {region}` (vehicle certificates must be reissued)"
        )
    try:
        certificate = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except ValueError as exc:
        raise FleetError(f"{folder}: not a readable certificate and key ({exc})") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.public_key() != certificate.public_key():
        raise FleetError(f"{key_path} is not the key of {cert_path}")
    if certificate.subject != ca_subject(region):
        raise FleetError(f"{cert_path} is {certificate.subject.rfc4514_string()}, not region {region}'s fleet CA")
    now = now or dt.datetime.now(dt.UTC)
    if certificate.not_valid_after_utc <= now:
        raise FleetError(
            f"{cert_path} expired on {certificate.not_valid_after_utc:%Y-%m-%d}: remove {folder} and run "
            f"`autocloud fleet ca --region {region}` (vehicle certificates must be reissued)"
        )
    return FleetCa(region, certificate, key, cert_path, key_path, created=False)


# --- vehicle certificates ----------------------------------------------------------------------------


def check_registration_id(vehicle_id: str) -> str:
    """``vehicle_id`` if DPS accepts it as a registration id (:data:`REGISTRATION_ID`), else FleetError."""
    if not REGISTRATION_ID.fullmatch(vehicle_id):
        raise FleetError(f"--id: {excerpt(vehicle_id)} is not a registration id: {REGISTRATION_ID_RULE}")
    return vehicle_id


@dataclass(frozen=True)
class VehicleCert:
    vehicle_id: str
    cert_path: Path
    """The vehicle's certificate followed by its region's CA certificate (PEM)."""
    key_path: Path
    not_after: dt.datetime


def issue_vehicle_cert(
    region: str,
    vehicle_id: str,
    out: Path,
    days: int = VEHICLE_VALIDITY_DAYS,
    *,
    fleet_dir: Path | None = None,
    now: dt.datetime | None = None,
) -> VehicleCert:
    """A device certificate for ``vehicle_id`` signed by ``region``'s fleet CA, written as
    ``out/<id>-cert.pem`` (leaf, then the CA) and ``out/<id>-key.pem`` (0600).

    The CA certificate rides along because "the device must send the certificate chain from the leaf
    certificate to a certificate verified with proof-of-possession" (DPS device chain requirements,
    https://learn.microsoft.com/azure/iot-dps/concepts-x509-attestation); the verified certificate is the
    fleet CA itself. The device SDKs send the file they are given as the client chain: the Python SDK
    passes it to ``ssl_context.load_cert_chain(x509_cert.certificate_file, x509_cert.key_file, ...)``
    (Azure/azure-iot-sdk-python, azure-iot-device/azure/iot/device/common/mqtt_transport.py), whose
    certfile is "a single file in PEM format containing the certificate as well as any number of CA
    certificates needed to establish the certificate's authenticity" (Python's ssl documentation)."""
    check_region(region)
    check_registration_id(vehicle_id)
    if days < 1:
        raise FleetError(f"--days must be at least 1, not {days}")
    now = now or dt.datetime.now(dt.UTC)
    ca = load_ca(region, fleet_dir=fleet_dir, now=now)
    assert ca is not None
    not_after = now + dt.timedelta(days=days)
    if not_after > ca.certificate.not_valid_after_utc:
        raise FleetError(
            f"--days {days} outlives region {region}'s fleet CA (valid until "
            f"{ca.certificate.not_valid_after_utc:%Y-%m-%d}); ask for fewer days"
        )
    if out.exists() and not out.is_dir():
        raise FleetError(f"--out {out} is not a folder")
    key = ec.generate_private_key(ec.SECP256R1())
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, vehicle_id)]))
        .issuer_name(ca.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False)
        .sign(ca.key, hashes.SHA256())
    )
    cert_path, key_path = out / f"{vehicle_id}-cert.pem", out / f"{vehicle_id}-key.pem"
    chain = certificate.public_bytes(serialization.Encoding.PEM) + ca.pem
    _write_pair(key_path, _key_pem(key), cert_path, chain)
    return VehicleCert(vehicle_id, cert_path, key_path, not_after)


def verify_vehicle(
    chain: bytes | str | Sequence[x509.Certificate],
    region: str,
    *,
    fleet_dir: Path | None = None,
    now: dt.datetime | None = None,
) -> str:
    """The registration id of a vehicle whose certificate ``region`` accepts, else VehicleRejected.

    ``chain`` is what a vehicle presents (a ``<id>-cert.pem``'s contents, leaf first). Accepted only if
    the leaf is issued by this region's fleet CA and the path to that CA verifies (signature, validity,
    clientAuth, a CN that is a registration id): a vehicle of another region, whose CA this region does
    not hold, is refused even though its certificate is otherwise sound."""
    now = now or dt.datetime.now(dt.UTC)
    if isinstance(chain, str):
        chain = chain.encode()
    try:
        certs = x509.load_pem_x509_certificates(chain) if isinstance(chain, bytes) else list(chain)
    except ValueError:
        raise VehicleRejected("not a PEM certificate chain") from None
    if not certs:
        raise VehicleRejected("no certificate presented")
    leaf, intermediates = certs[0], certs[1:]
    ca = load_ca(region, fleet_dir=fleet_dir, now=now)
    assert ca is not None
    if leaf.issuer != ca.certificate.subject:
        raise VehicleRejected(
            f"certificate of {_cn(leaf) or leaf.subject.rfc4514_string()} is issued by "
            f"{_name(leaf.issuer)!r}, not region {region}'s fleet CA {_name(ca.certificate.subject)!r}"
        )
    try:
        leaf.verify_directly_issued_by(ca.certificate)
    except (InvalidSignature, ValueError, TypeError):
        raise VehicleRejected(f"certificate of {_cn(leaf)} is not signed by region {region}'s fleet CA") from None
    # Vehicles carry no subjectAltName (DPS and IoT Hub identify them by CN), so the end-entity policy
    # lets it be absent where the Web PKI defaults would require it.
    leaf_policy = ExtensionPolicy.webpki_defaults_ee().may_be_present(
        x509.SubjectAlternativeName, Criticality.AGNOSTIC, None
    )
    verifier = (
        PolicyBuilder()
        .store(Store([ca.certificate]))
        .time(now)
        .extension_policies(ca_policy=ExtensionPolicy.webpki_defaults_ca(), ee_policy=leaf_policy)
        .build_client_verifier()
    )
    try:
        verifier.verify(leaf, [c for c in intermediates if c != ca.certificate])
    except VerificationError as exc:
        reason = str(exc).split(" (encountered processing")[0]
        raise VehicleRejected(f"certificate of {_cn(leaf)} refused: {reason}") from None
    vehicle_id = _cn(leaf)
    if vehicle_id is None or not REGISTRATION_ID.fullmatch(vehicle_id):
        raise VehicleRejected(f"certificate CN {excerpt(vehicle_id)} is not a registration id")
    return vehicle_id


# --- DPS enrollment group ----------------------------------------------------------------------------

TokenSource = Callable[[str], str]
"""Resource URI -> Entra ID access token (:func:`az_access_token`)."""
OutputsSource = Callable[[str], Mapping[str, Any]]
"""Stack name -> its outputs (``autocloud.runtime.engine.stack_outputs``)."""


def dps_token_resource(dps_host: str) -> str:
    """The token audience of the DPS service API in the DPS's own cloud: "The resource name for requesting
    the token is https://azure-devices-provisioning.net" (https://learn.microsoft.com/azure/iot-dps/
    concepts-control-access-dps-azure-ad); Azure China: https://azure-devices-provisioning.cn
    (https://docs.azure.cn/en-us/iot-dps/concepts-control-access-dps-azure-ad). The suffixes are
    ``platform_model.locations.DNS``, the hosts the stack exports."""
    for dns in DNS.values():
        if dps_host.endswith("." + dns.dps):
            return f"https://{dns.dps}"
    raise EnrollmentError(f"{dps_host} is not a DPS host of a known cloud")


def az_access_token(resource: str) -> str:
    """An Entra ID token for ``resource`` from the Azure CLI's login (``az account get-access-token``)."""
    az = shutil.which("az")
    if az is None:
        raise FleetError("the Azure CLI (az) is not installed or not on PATH: install it, then `az login`")
    try:
        proc = subprocess.run(
            [az, "account", "get-access-token", "--resource", resource, "--query", "accessToken", "--output", "tsv"],
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
    except subprocess.TimeoutExpired:
        raise FleetError("az account get-access-token did not answer within 120s") from None
    token = proc.stdout.strip()
    if proc.returncode != 0 or not token:
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        said = lines[-1].strip() if lines else f"exit code {proc.returncode}"
        raise FleetError(
            f"az could not get a token for {resource} ({excerpt(said, 200)}): run `az login` "
            "(for Azure China, `az cloud set --name AzureChinaCloud` first)"
        )
    return token


def enrollment_group_body(etag: str | None = None) -> dict[str, Any]:
    """The region's enrollment group (spec: EnrollmentGroup, 2021-10-01).

    X.509 attestation by ``caReferences``: the group names the CA certificate already registered and
    verified in the DPS resource (the stack uploads it as :data:`FLEET_CA_NAME` with ``isVerified``), as
    ``az iot dps enrollment-group create --ca-name`` does; ``signingCertificates`` would carry the PEM in
    the group instead, a second copy to keep in step. Hashed allocation over every hub linked to the DPS
    (no ``iotHubs`` list, so a new scale unit's hub needs no new enrollment): "'hashed': Linked IoT hubs are
    equally likely to have devices provisioned to them"."""
    body: dict[str, Any] = {
        "enrollmentGroupId": ENROLLMENT_GROUP,
        "attestation": {"type": "x509", "x509": {"caReferences": {"primary": FLEET_CA_NAME}}},
        "allocationPolicy": "hashed",
        "provisioningStatus": "enabled",
        "reprovisionPolicy": {"updateHubAssignment": True, "migrateDeviceData": True},
        "capabilities": {"iotEdge": False},
    }
    if etag is not None:
        body["etag"] = etag
    return body


@dataclass(frozen=True)
class Enrollment:
    stack: str
    dps_host: str
    group: str
    action: Literal["created", "updated"]


def enroll(
    stack: str,
    *,
    outputs: OutputsSource | None = None,
    token: TokenSource = az_access_token,
    base_url: str | None = None,
    warn: Callable[[str], None] = lambda _line: None,
) -> Enrollment:
    """Create or update the region's DPS enrollment group through DPS's service API, authenticated with
    the caller's Entra ID (it needs :data:`DPS_DATA_ROLE` on the DPS). The DPS host is the stack's output
    ``endpoints.provisioning.device_endpoint``; ``base_url`` replaces ``https://<host>`` (tests)."""
    config = stack_config(stack)
    label = f"stacks/Pulumi.{stack}.yaml"
    if config.target != "azure":
        raise FleetError(f"--stack {stack} targets {config.target}: enrollment groups exist on Azure DPS only")
    if config.fleet_ca_certificate is None:
        raise FleetError(
            f"{label}: {CONFIG_NAMESPACE}:fleetCaCertificate is not set, so the DPS holds no fleet CA to enroll "
            f"against: set it to .state/fleet/{config.region}/ca.pem (`autocloud fleet ca --region "
            f"{config.region}`) and apply the stack first"
        )
    if not load_profile(config.region).services.dps:
        raise FleetError(f"{label}: region {config.region} has no DPS (services.dps is off in its profile)")
    local = load_ca(config.region, missing_ok=True)
    if local is not None and _pem_der(config.fleet_ca_certificate) != local.certificate.public_bytes(
        serialization.Encoding.DER
    ):
        warn(
            f"{label}: {CONFIG_NAMESPACE}:fleetCaCertificate is not {local.cert_path}; vehicle certificates "
            "from `autocloud fleet vehicle-cert` will not be accepted by this DPS"
        )
    if outputs is None:
        from autocloud.runtime.engine import stack_outputs

        outputs = stack_outputs
    dps_host = _dps_host(stack, outputs(stack))
    bearer = token(dps_token_resource(dps_host))
    url = f"{base_url or 'https://' + dps_host}/enrollmentGroups/{ENROLLMENT_GROUP}?api-version={DPS_API_VERSION}"
    current = _request("GET", url, bearer, dps_host, missing_ok=True)
    etag = current.get("etag") if current is not None else None
    _request("PUT", url, bearer, dps_host, body=enrollment_group_body(etag), etag=etag)
    return Enrollment(stack, dps_host, ENROLLMENT_GROUP, "updated" if current is not None else "created")


def _dps_host(stack: str, outputs: Mapping[str, Any]) -> str:
    endpoints = outputs.get("endpoints")
    provisioning = endpoints.get("provisioning") if isinstance(endpoints, Mapping) else None
    host = provisioning.get("device_endpoint") if isinstance(provisioning, Mapping) else None
    if not isinstance(host, str) or not host:
        raise FleetError(
            f"stack {stack} exports no endpoints.provisioning.device_endpoint: deploy it first "
            f"(`autocloud rollout rollouts/azure.yaml`)"
        )
    return host


def _request(
    method: str,
    url: str,
    bearer: str,
    dps_host: str,
    *,
    body: Mapping[str, Any] | None = None,
    etag: str | None = None,
    missing_ok: bool = False,
) -> dict[str, Any] | None:
    headers = {"Authorization": f"Bearer {bearer}", "Accept": "application/json"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if etag is not None:
        headers["If-Match"] = etag
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_S) as response:
            payload = response.read()
    except urllib.error.HTTPError as exc:
        if exc.code == 404 and missing_ok:
            return None
        raise EnrollmentError(_http_problem(method, dps_host, exc)) from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise EnrollmentError(f"cannot reach DPS {dps_host}: {reason}") from None
    try:
        parsed = json.loads(payload) if payload else {}
    except json.JSONDecodeError:
        raise EnrollmentError(f"DPS {dps_host} answered {method} with something other than JSON") from None
    return parsed if isinstance(parsed, dict) else {}


def _http_problem(method: str, dps_host: str, exc: urllib.error.HTTPError) -> str:
    try:
        detail = json.loads(exc.read() or b"{}")
    except (json.JSONDecodeError, OSError):
        detail = {}
    message = detail.get("message") if isinstance(detail, dict) else None
    said = f": {excerpt(message, 200)}" if message else ""
    if exc.code in (401, 403):
        return (
            f"DPS {dps_host} refused {method} ({exc.code}){said}; the signed-in identity needs the "
            f"{DPS_DATA_ROLE!r} role on this DPS (role assignments take a few minutes to apply)"
        )
    return f"DPS {dps_host} answered {method} with {exc.code}{said}"


# --- helpers -----------------------------------------------------------------------------------------


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    """A CA signs certificates (keyCertSign, cRLSign); a vehicle signs its TLS handshake (digitalSignature)."""
    return x509.KeyUsage(
        digital_signature=not cert_sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    """Unencrypted PKCS#8: the device SDKs and the broker read the key file as it is (its 0600 mode guards it)."""
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _write_pair(key_path: Path, key_pem: bytes, cert_path: Path, cert_pem: bytes) -> None:
    """The key (0600) then the certificate (0644), each atomically. If the certificate cannot be written,
    both paths are removed: no key is left beside a certificate that is not its own."""
    write_atomically(key_path, key_pem, mode=PRIVATE_MODE)
    try:
        write_atomically(cert_path, cert_pem, mode=PUBLIC_MODE)
    except BaseException:
        key_path.unlink(missing_ok=True)
        cert_path.unlink(missing_ok=True)
        raise


def _cn(certificate: x509.Certificate) -> str | None:
    names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    value = names[0].value if names else None
    return value if isinstance(value, str) else None


def _name(name: x509.Name) -> str:
    """A distinguished name as a reader knows it: its CN, else the whole name."""
    names = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    value = names[0].value if names else None
    return value if isinstance(value, str) else name.rfc4514_string()


def _pem_der(pem: str) -> bytes | None:
    try:
        return x509.load_pem_x509_certificate(pem.strip().encode()).public_bytes(serialization.Encoding.DER)
    except ValueError:
        return None
