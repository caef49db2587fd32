"""A region's DPS enrollment group, made through DPS's service API with Entra ID.

The fleet PKI itself (the region's CA, vehicle certificates) is ``autocloud.runtime.fleet_pki``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from autocloud.runtime.fleet_pki import FleetError, load_ca
from components.contracts import FLEET_CA_NAME, brand_fleet_ca_name
from platform_model.errors import AutocloudError, excerpt
from platform_model.locations import DNS
from platform_model.profiles import load_profile
from platform_model.stack import CONFIG_NAMESPACE, StackConfig, stack_config

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


class EnrollmentError(AutocloudError):
    """DPS refused or could not be reached; one line, exit 1."""


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


def enrollment_group_body(
    etag: str | None = None, group: str = ENROLLMENT_GROUP, ca_name: str = FLEET_CA_NAME
) -> dict[str, Any]:
    """An enrollment group of the region (spec: EnrollmentGroup, 2021-10-01): the region's own, or a brand's
    (``group`` ``fleet-<brand>`` trusting ``ca_name`` ``fleet-ca-<brand>``).

    X.509 attestation by ``caReferences``: the group names the CA certificate already registered and
    verified in the DPS resource (the stack uploads it as :data:`FLEET_CA_NAME` with ``isVerified``), as
    ``az iot dps enrollment-group create --ca-name`` does; ``signingCertificates`` would carry the PEM in
    the group instead, a second copy to keep in step. Hashed allocation over every hub linked to the DPS
    (no ``iotHubs`` list, so a new scale unit's hub needs no new enrollment): "'hashed': Linked IoT hubs are
    equally likely to have devices provisioned to them"."""
    body: dict[str, Any] = {
        "enrollmentGroupId": group,
        "attestation": {"type": "x509", "x509": {"caReferences": {"primary": ca_name}}},
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
    ca_name: str = FLEET_CA_NAME


def enrollment_groups(config: StackConfig) -> list[tuple[str, str]]:
    """(group id, registered CA name) of every group the stack's DPS needs: the region's, trusting
    ``fleet-ca``, and one per brand with a fleet CA of its own (``autocloud:brands``), trusting that brand's
    CA as the stack registered it. A brand without its own CA enrolls through the region's group."""
    groups = [(ENROLLMENT_GROUP, FLEET_CA_NAME)]
    groups += [(f"{ENROLLMENT_GROUP}-{b.name}", brand_fleet_ca_name(b.name)) for b in config.brands if b.fleet_ca]
    return groups


def enroll(
    stack: str,
    *,
    outputs: OutputsSource | None = None,
    token: TokenSource = az_access_token,
    base_url: str | None = None,
    warn: Callable[[str], None] = lambda _line: None,
) -> list[Enrollment]:
    """Create or update the region's DPS enrollment groups (:func:`enrollment_groups`) through DPS's service
    API, authenticated with
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
    done = []
    for group, ca_name in enrollment_groups(config):
        url = f"{base_url or 'https://' + dps_host}/enrollmentGroups/{group}?api-version={DPS_API_VERSION}"
        current = _request("GET", url, bearer, dps_host, missing_ok=True)
        etag = current.get("etag") if current is not None else None
        _request("PUT", url, bearer, dps_host, body=enrollment_group_body(etag, group, ca_name), etag=etag)
        done.append(Enrollment(stack, dps_host, group, "updated" if current is not None else "created", ca_name))
    return done


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


def _pem_der(pem: str) -> bytes | None:
    try:
        return x509.load_pem_x509_certificate(pem.strip().encode()).public_bytes(serialization.Encoding.DER)
    except ValueError:
        return None
