"""The local device endpoints' server certificate: names, usage, and when it is made again."""

from __future__ import annotations

import datetime as dt
import ipaddress

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from components.local.device_tls import (
    NOT_AFTER,
    RENEW_DAYS,
    issue_server_certificate,
    needs_new_certificate,
)

NOW = dt.datetime(2026, 12, 5, tzinfo=dt.UTC)
HOSTS = ["dps.autocloud-eu.svc.cluster.local", "telemetry-1.autocloud-eu.svc.cluster.local"]


def test_server_certificate_names_every_endpoint_and_the_tunnel() -> None:
    made = issue_server_certificate("eu", HOSTS, NOW)
    ca = x509.load_pem_x509_certificate(made["ca_pem"].encode())
    leaf = x509.load_pem_x509_certificate(made["cert_pem"].encode())
    leaf.verify_directly_issued_by(ca)
    names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == HOSTS
    assert names.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
    usage = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert "PRIVATE KEY" in made["key_pem"]


def test_made_again_only_when_names_change_or_the_end_nears() -> None:
    made = issue_server_certificate("eu", HOSTS, NOW)
    olds = {"region": "eu", "hosts": HOSTS, **made}
    assert not needs_new_certificate(olds, {"region": "eu", "hosts": HOSTS}, NOW)
    assert needs_new_certificate(olds, {"region": "eu", "hosts": HOSTS[:1]}, NOW)
    end = dt.datetime.fromisoformat(made[NOT_AFTER])
    assert needs_new_certificate(olds, {"region": "eu", "hosts": HOSTS}, end - dt.timedelta(days=RENEW_DAYS - 1))
