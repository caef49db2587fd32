"""The local device endpoints' TLS: a server certificate made once per stack and kept in its state.

On Azure, vehicles reach IoT Hub and DPS over TLS with Microsoft's server certificates. Locally, the
region's hubs and its DPS present a certificate from a CA the stack makes for them, with every endpoint's
in-cluster name and ``127.0.0.1`` (vehicles outside the cluster reach them through a tunnel on this
machine) as subject alternative names. A vehicle trusts that CA as an Azure device trusts Microsoft's
roots; ``autocloud simulate`` reads it from the region's Secret.

It is a Pulumi dynamic resource, as :mod:`components.stack_secret` is: made by ``create`` on the first
apply, the key an additional secret output (encrypted by the stack's secrets provider), unchanged by later
runs until the names change or the certificate nears its end, so a second ``up`` changes nothing.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import uuid
from collections.abc import Sequence
from typing import Any

import pulumi
import pulumi.dynamic

VALIDITY_DAYS = 397
"""Lifetime of the CA and the server certificate (the CA/Browser Forum's cap for a server certificate)."""
RENEW_DAYS = 30
"""A certificate this close to its end is made again at the next ``up``."""
TUNNEL_ADDRESS = "127.0.0.1"
CA_PEM, CERT_PEM, KEY_PEM, NOT_AFTER = "ca_pem", "cert_pem", "key_pem", "not_after"


def issue_server_certificate(region: str, hosts: Sequence[str], now: dt.datetime) -> dict[str, str]:
    """A new CA for ``region``'s device endpoints and a server certificate for ``hosts`` signed by it
    (EC P-256, serverAuth), as PEM; the key is PKCS#8."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    not_before, not_after = now - dt.timedelta(minutes=5), now + dt.timedelta(days=VALIDITY_DAYS)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "autocloud"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"autocloud local device endpoints CA {region}"),
        ]
    )
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )  # keyCertSign, cRLSign
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = [x509.DNSName(host) for host in hosts]
    names.append(x509.IPAddress(ipaddress.ip_address(TUNNEL_ADDRESS)))
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True
        )  # digitalSignature
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    return {
        CA_PEM: ca.public_bytes(pem).decode(),
        CERT_PEM: leaf.public_bytes(pem).decode(),
        KEY_PEM: key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode(),
        NOT_AFTER: not_after.isoformat(),
    }


def needs_new_certificate(olds: dict[str, Any], news: dict[str, Any], now: dt.datetime) -> bool:
    """Whether the names changed or the certificate is within :data:`RENEW_DAYS` of its end."""
    if list(olds.get("hosts") or []) != list(news.get("hosts") or []) or olds.get("region") != news.get("region"):
        return True
    not_after = olds.get(NOT_AFTER)
    return not not_after or dt.datetime.fromisoformat(not_after) - now < dt.timedelta(days=RENEW_DAYS)


class _ServerCertificateProvider(pulumi.dynamic.ResourceProvider):
    def create(self, props: Any) -> pulumi.dynamic.CreateResult:
        made = issue_server_certificate(props["region"], props["hosts"], dt.datetime.now(dt.UTC))
        return pulumi.dynamic.CreateResult(id_=uuid.uuid4().hex, outs={**props, **made})

    def diff(self, _id: str, olds: Any, news: Any) -> pulumi.dynamic.DiffResult:
        if needs_new_certificate(olds, news, dt.datetime.now(dt.UTC)):
            return pulumi.dynamic.DiffResult(changes=True, replaces=["hosts"], delete_before_replace=False)
        return pulumi.dynamic.DiffResult(changes=False)


class ServerCertificate(pulumi.dynamic.Resource):
    """The region's device-endpoint CA (:attr:`ca_pem`) and server certificate and key for ``hosts``."""

    ca_pem: pulumi.Output[str]
    cert_pem: pulumi.Output[str]
    key_pem: pulumi.Output[str]

    def __init__(
        self, name: str, region: str, hosts: Sequence[str], opts: pulumi.ResourceOptions | None = None
    ) -> None:
        if not hosts:
            raise ValueError("a server certificate needs at least one host name")
        secret = pulumi.ResourceOptions(additional_secret_outputs=[KEY_PEM])
        super().__init__(
            _ServerCertificateProvider(),
            name,
            {"region": region, "hosts": list(hosts), CA_PEM: None, CERT_PEM: None, KEY_PEM: None, NOT_AFTER: None},
            pulumi.ResourceOptions.merge(opts, secret),
        )
