"""The fleet PKI of each region: its CA and the vehicles' certificates.

A region's vehicles authenticate with X.509 only. Each region has its own fleet CA under
``.state/fleet/<region>/`` (``platform_model.paths.FLEET_DIR``); a vehicle's certificate names its
registration id as subject CN and chains to its region's CA, and to no other (:func:`verify_vehicle`).
A brand may have a CA of its own in its region (``.state/fleet/<region>/brands/<brand>/``, ``autocloud:brands``'
``fleetCa``), which signs only that brand's vehicles (ids ``<brand>-...``).
On Azure the stack registers that CA with the region's DPS (``autocloud:fleetCaCertificate``, verified
on upload; ``autocloud.operations.fleet.enroll`` points a DPS enrollment group at it); the local stacks'
DPS and hubs trust it too (:func:`local_run_config`).

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
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from cryptography.x509.verification import Criticality, ExtensionPolicy, PolicyBuilder, Store, VerificationError

from platform_model import paths
from platform_model.brands import BRAND_NAME
from platform_model.errors import AutocloudError, InputError, excerpt
from platform_model.files import write_atomically
from platform_model.profiles import available_profiles
from platform_model.stack import BRANDS_KEY, FLEET_CA_KEY, ResolvedStack
from platform_model.vocabulary import brand_vehicle_prefix

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


class FleetError(InputError):
    """Bad input for the fleet PKI (region, id, files, stack); one line, exit 2."""


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
    brand: str | None = None
    """The brand whose own CA this is, or None for the region's."""

    @property
    def pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    @property
    def fingerprint(self) -> str:
        return self.certificate.fingerprint(hashes.SHA256()).hex(":").upper()


def ca_subject(region: str, brand: str | None = None) -> x509.Name:
    """The fleet CA's subject: the region (and brand) is in its name, so a certificate says whose vehicles
    it signs."""
    owner = f"{region} brand {brand}" if brand else region
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "autocloud"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"autocloud fleet CA {owner}"),
        ]
    )


def _ca_name(region: str, brand: str | None) -> str:
    return f"brand {brand}'s fleet CA in region {region}" if brand else f"region {region}'s fleet CA"


def _ca_command(region: str, brand: str | None) -> str:
    return f"`autocloud fleet ca --region {region}" + (f" --brand {brand}`" if brand else "`")


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


BRANDS_DIR = "brands"


def ca_dir(region: str, brand: str | None = None, fleet_dir: Path | None = None) -> Path:
    """Where a CA and the vehicles it signed are kept: the region's folder, or its brand's below it."""
    folder = region_dir(region, fleet_dir)
    return folder / BRANDS_DIR / brand if brand else folder


def check_brand(brand: str | None) -> str | None:
    """``brand`` if it is a brand name (``platform_model.brands.BRAND_NAME``), else a one-line FleetError."""
    if brand is not None and not re.fullmatch(BRAND_NAME, brand):
        raise FleetError(
            f"--brand: {excerpt(brand)} is not a brand name (a lowercase DNS label starting with a letter)"
        )
    return brand


def ensure_ca(
    region: str,
    days: int = CA_VALIDITY_DAYS,
    *,
    fleet_dir: Path | None = None,
    now: dt.datetime | None = None,
    brand: str | None = None,
) -> FleetCa:
    """The region's fleet CA (or ``brand``'s own in the region): the one under ``.state/fleet/<region>/``
    (``brands/<brand>/``) if it is whole and valid, else a new one (EC P-256, CA basic constraints,
    keyCertSign). Both files are written atomically, the key first (0600), the certificate last: a failure
    removes what this call wrote, so no half CA is left."""
    check_region(region)
    check_brand(brand)
    if days < 1:
        raise FleetError(f"--days must be at least 1, not {days}")
    now = now or dt.datetime.now(dt.UTC)
    folder = ca_dir(region, brand, fleet_dir)
    existing = load_ca(region, fleet_dir=fleet_dir, now=now, missing_ok=True, brand=brand)
    if existing is not None:
        return existing
    key = ec.generate_private_key(ec.SECP256R1())
    subject = ca_subject(region, brand)
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
    return FleetCa(region, certificate, key, cert_path, key_path, created=True, brand=brand)


def load_ca(
    region: str,
    *,
    fleet_dir: Path | None = None,
    now: dt.datetime | None = None,
    missing_ok: bool = False,
    brand: str | None = None,
) -> FleetCa | None:
    """The region's existing fleet CA (or ``brand``'s own), checked whole: both files, the key matching the
    certificate, its owner's subject, still valid. None if neither file exists and ``missing_ok``."""
    folder = ca_dir(region, brand, fleet_dir)
    cert_path, key_path = folder / CA_CERT, folder / CA_KEY
    command = _ca_command(region, brand)
    present = [p for p in (cert_path, key_path) if p.exists()]
    if not present:
        if missing_ok:
            return None
        owner = f"brand {brand} in region {region}" if brand else f"region {region}"
        raise FleetError(f"{owner} has no fleet CA yet ({cert_path}): run {command}")
    if len(present) == 1:
        raise FleetError(
            f"{folder}: {present[0].name} without its {'key' if present[0] == cert_path else 'certificate'}; "
            f"remove {folder} and run {command} (vehicle certificates must be reissued)"
        )
    try:
        certificate = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except ValueError as exc:
        raise FleetError(f"{folder}: not a readable certificate and key ({exc})") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.public_key() != certificate.public_key():
        raise FleetError(f"{key_path} is not the key of {cert_path}")
    if certificate.subject != ca_subject(region, brand):
        raise FleetError(f"{cert_path} is {certificate.subject.rfc4514_string()}, not {_ca_name(region, brand)}")
    now = now or dt.datetime.now(dt.UTC)
    if certificate.not_valid_after_utc <= now:
        raise FleetError(
            f"{cert_path} expired on {certificate.not_valid_after_utc:%Y-%m-%d}: remove {folder} and run "
            f"{command} (vehicle certificates must be reissued)"
        )
    return FleetCa(region, certificate, key, cert_path, key_path, created=False, brand=brand)


def local_run_config(resolved: ResolvedStack, *, fleet_dir: Path | None = None, create: bool = True) -> dict[str, str]:
    """Config a local stack takes from this machine for one run, where the profile has IoT Hub: its region's
    fleet CA where the stack file names none, and each brand's own CA (``autocloud fleet ca --brand``) where
    the brand names none. The local DPS and hubs trust them, as the Azure stack's DPS does once
    ``autocloud:fleetCaCertificate`` and the brands' ``fleetCa`` are set. ``autocloud up`` makes the
    region's CA if it is missing (``create``); a check uses the existing one, else a CA made for that check
    alone and not kept. A brand without a CA here or in the file is trusted through the region's CA, as on
    Azure it enrolls through the region's group."""
    config = resolved.config
    if not config.is_local or not resolved.profile.services.iothub:
        return {}
    run: dict[str, str] = {}
    if not config.fleet_ca_certificate:
        run[FLEET_CA_KEY] = _region_ca_for_run(config.region, fleet_dir, create).pem.decode()
    brand_cas = {
        b.name: ca.pem.decode()
        for b in config.brands
        if not b.fleet_ca and (ca := load_ca(config.region, fleet_dir=fleet_dir, missing_ok=True, brand=b.name))
    }
    if brand_cas:
        brands = [
            b.model_dump(by_alias=True, exclude_none=True)
            | ({"fleetCa": brand_cas[b.name]} if b.name in brand_cas else {})
            for b in config.brands
        ]
        run[BRANDS_KEY] = json.dumps(brands)
    return run


def _region_ca_for_run(region: str, fleet_dir: Path | None, create: bool) -> FleetCa:
    if create:
        return ensure_ca(region, fleet_dir=fleet_dir)
    existing = load_ca(region, fleet_dir=fleet_dir, missing_ok=True)
    if existing is None:
        with tempfile.TemporaryDirectory() as scratch:
            existing = ensure_ca(region, fleet_dir=Path(scratch))
    return existing


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
    brand: str | None = None,
    ca: FleetCa | None = None,
) -> VehicleCert:
    """A device certificate for ``vehicle_id`` signed by ``region``'s fleet CA (or ``brand``'s own, which
    signs only ``<brand>-`` ids; ``ca``: that CA already loaded), written as ``out/<id>-cert.pem`` (leaf,
    then the CA) and ``out/<id>-key.pem`` (0600).

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
    if (brand := check_brand(brand)) and not vehicle_id.startswith(brand_vehicle_prefix(brand)):
        raise FleetError(
            f"--id: {excerpt(vehicle_id)} is not brand {brand}'s: its CA signs only ids starting "
            f"{brand_vehicle_prefix(brand)} (the prefix decides a vehicle's brand on every hop)"
        )
    if days < 1:
        raise FleetError(f"--days must be at least 1, not {days}")
    now = now or dt.datetime.now(dt.UTC)
    ca = ca or load_ca(region, fleet_dir=fleet_dir, now=now, brand=brand)
    assert ca is not None
    not_after = now + dt.timedelta(days=days)
    if not_after > ca.certificate.not_valid_after_utc:
        raise FleetError(
            f"--days {days} outlives {_ca_name(region, brand)} (valid until "
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


VEHICLES_DIR = "vehicles"
REISSUE_BEFORE = dt.timedelta(days=1)


def signing_ca(
    region: str, *, fleet_dir: Path | None = None, now: dt.datetime | None = None, brand: str | None = None
) -> FleetCa:
    """The CA a simulated vehicle's certificate comes from: ``brand``'s own where it has one here, else the
    region's (a brand without a CA of its own enrolls through the region's)."""
    ca = load_ca(region, fleet_dir=fleet_dir, now=now, missing_ok=True, brand=brand) if brand else None
    ca = ca or load_ca(region, fleet_dir=fleet_dir, now=now)
    assert ca is not None  # load_ca raises when the region's CA is missing
    return ca


def vehicle_credentials(
    region: str,
    vehicle_id: str,
    *,
    fleet_dir: Path | None = None,
    now: dt.datetime | None = None,
    brand: str | None = None,
    ca: FleetCa | None = None,
) -> VehicleCert:
    """A simulated vehicle's certificate, kept under ``.state/fleet/<region>/vehicles/`` (a brand's with its
    own CA: ``brands/<brand>/vehicles/``): reused while it chains to that CA as it is now and has more than a
    day left, else issued again. ``ca`` is ``signing_ca``'s answer, loaded once for a whole fleet."""
    now = now or dt.datetime.now(dt.UTC)
    ca = ca or signing_ca(region, fleet_dir=fleet_dir, now=now, brand=brand)
    folder = ca_dir(region, ca.brand, fleet_dir) / VEHICLES_DIR
    cert_path, key_path = folder / f"{vehicle_id}-cert.pem", folder / f"{vehicle_id}-key.pem"
    if cert_path.is_file() and key_path.is_file():
        try:
            leaf = x509.load_pem_x509_certificates(cert_path.read_bytes())[0]
            leaf.verify_directly_issued_by(ca.certificate)
            if leaf.not_valid_after_utc - now > REISSUE_BEFORE:
                return VehicleCert(vehicle_id, cert_path, key_path, leaf.not_valid_after_utc)
        except (ValueError, TypeError, InvalidSignature):
            pass  # unreadable or from a replaced CA: issue a new one
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return issue_vehicle_cert(region, vehicle_id, folder, fleet_dir=fleet_dir, now=now, brand=ca.brand, ca=ca)


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
