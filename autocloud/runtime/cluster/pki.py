"""The cluster's private CA, its certificates, the static tokens and the kubeconfigs and node
configuration written from them."""

from __future__ import annotations

import base64
import json
import secrets
import subprocess
from pathlib import Path

from autocloud.runtime import images, node
from autocloud.runtime.cluster.settings import IDENTITIES, NODE_NAME, ClusterError, Layout, Ports
from platform_model.files import write_atomically
from platform_model.paths import TOOLCHAIN_BIN


def _openssl(*args: str) -> None:
    proc = subprocess.run(["openssl", *args], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise ClusterError(f"openssl {args[0]} failed: {proc.stderr.strip().splitlines()[-1:]}")


CERTS: dict[str, tuple[str, str]] = {
    # name: (subject, subjectAltName or "")
    "apiserver": (
        "/CN=kube-apiserver",
        ",".join(
            [
                "IP:127.0.0.1",
                f"IP:{node.NODE_IP}",
                f"IP:{node.KUBERNETES_SERVICE_IP}",
                "DNS:localhost",
                "DNS:kubernetes",
                "DNS:kubernetes.default",
                "DNS:kubernetes.default.svc",
                f"DNS:kubernetes.default.svc.{node.CLUSTER_DOMAIN}",
            ]
        ),
    ),
    "etcd-server": ("/CN=etcd", "IP:127.0.0.1,DNS:localhost"),
    "etcd-client": ("/CN=kube-apiserver-etcd-client", ""),
    "kubelet-client": ("/CN=kube-apiserver-kubelet-client", ""),
    "kubelet": (f"/CN=system:node:{NODE_NAME}/O=system:nodes", f"IP:{node.NODE_IP},DNS:{NODE_NAME}"),
}


def _issue(pki: Path, name: str, subject: str, san: str) -> None:
    """A certificate signed by the cluster CA, reissued when its subject or names change."""
    marker = pki / f"{name}.spec"
    spec = f"{subject}|{san}"
    if (pki / f"{name}.crt").exists() and marker.exists() and marker.read_text() == spec:
        return
    key, csr, ext = pki / f"{name}.key", pki / f"{name}.csr", pki / f"{name}.ext"
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", subject, "-keyout", str(key), "-out", str(csr))
    lines = ["extendedKeyUsage=serverAuth,clientAuth", "keyUsage=digitalSignature,keyEncipherment"]
    if san:
        lines.append(f"subjectAltName={san}")
    ext.write_text("\n".join(lines) + "\n")
    _openssl(
        "x509",
        "-req",
        "-in",
        str(csr),
        "-CA",
        str(pki / "ca.crt"),
        "-CAkey",
        str(pki / "ca.key"),
        "-CAcreateserial",
        "-days",
        "3650",
        "-extfile",
        str(ext),
        "-out",
        str(pki / f"{name}.crt"),
    )
    key.chmod(0o600)
    csr.unlink()
    marker.write_text(spec)


def ensure_pki(lay: Layout) -> None:
    """A private CA, every component's certificate, the service-account key, tokens, the encryption key."""
    pki = lay.pki
    pki.mkdir(parents=True, exist_ok=True)
    pki.chmod(0o700)
    if not (pki / "ca.crt").exists():
        _openssl(
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "3650",
            "-subj",
            "/CN=autocloud-local-ca",
            "-keyout",
            str(pki / "ca.key"),
            "-out",
            str(pki / "ca.crt"),
        )
    for name, (subject, san) in CERTS.items():
        _issue(pki, name, subject, san)
    if not (pki / "sa.key").exists():
        _openssl("genrsa", "-out", str(pki / "sa.key"), "2048")
        _openssl("rsa", "-in", str(pki / "sa.key"), "-pubout", "-out", str(pki / "sa.pub"))
    _ensure_tokens(lay)
    encryption = pki / "encryption.json"
    if not encryption.exists():
        key = secrets.token_bytes(32)
        encryption.write_text(
            json.dumps(
                {
                    "apiVersion": "apiserver.config.k8s.io/v1",
                    "kind": "EncryptionConfiguration",
                    "resources": [
                        {
                            "resources": ["secrets"],
                            "providers": [
                                {"secretbox": {"keys": [{"name": "key1", "secret": base64.b64encode(key).decode()}]}},
                                {"identity": {}},
                            ],
                        }
                    ],
                }
            )
        )
    for path in pki.iterdir():
        if path.suffix in (".key", ".csv", ".json"):
            path.chmod(0o600)


def _ensure_tokens(lay: Layout) -> None:
    """One static token per identity; existing tokens are kept so running clients stay valid."""
    existing: dict[str, str] = {}
    if lay.token_file.exists():
        for line in lay.token_file.read_text().splitlines():
            parts = line.split(",", 3)
            if len(parts) >= 2:
                existing[parts[1]] = parts[0]
    lines = []
    for ident in IDENTITIES:
        token = existing.get(ident.user) or secrets.token_hex(24)
        groups = f',"{",".join(ident.groups)}"' if ident.groups else ""
        lines.append(f"{token},{ident.user},{ident.user}{groups}")
    content = "\n".join(lines) + "\n"
    if not lay.token_file.exists() or lay.token_file.read_text() != content:
        lay.token_file.write_text(content)
    lay.token_file.chmod(0o600)


def _token(lay: Layout, user: str) -> str:
    for line in lay.token_file.read_text().splitlines():
        parts = line.split(",", 3)
        if len(parts) >= 2 and parts[1] == user:
            return parts[0]
    raise ClusterError(f"{lay.token_file}: no token for {user}; delete the file and start again")


def admin_token(lay: Layout) -> str:
    return _token(lay, "autocloud-admin")


def _kubeconfig(lay: Layout, server: str, user: str) -> str:
    return (
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [
                    {
                        "name": "autocloud-local",
                        "cluster": {"server": server, "certificate-authority": str(lay.pki / "ca.crt")},
                    }
                ],
                "users": [{"name": user, "user": {"token": _token(lay, user)}}],
                "contexts": [{"name": "autocloud-local", "context": {"cluster": "autocloud-local", "user": user}}],
                "current-context": "autocloud-local",
            },
            indent=2,
        )
        + "\n"
    )


def _write_private(path: Path, content: str) -> None:
    """Write only when changed (a rewrite would look like a config change), always 0600."""
    if not path.exists() or path.read_text() != content:
        write_atomically(path, content, mode=0o600)
    path.chmod(0o600)


def write_configs(lay: Layout, ports: Ports) -> None:
    _write_private(lay.kubeconfig, _kubeconfig(lay, f"https://127.0.0.1:{ports.apiserver}", "autocloud-admin"))
    inside = f"https://127.0.0.1:{node.APISERVER_PORT}"
    for ident in IDENTITIES[1:]:
        _write_private(lay.component_kubeconfig(ident.key), _kubeconfig(lay, inside, ident.user))
    paths = lay.node
    for folder in (paths.containerd_root, paths.kubelet_root, paths.cni_conf):
        folder.mkdir(parents=True, exist_ok=True)
    _write_private(
        lay.configs / "containerd.toml", node.containerd_config(paths, TOOLCHAIN_BIN, images.image_reference("pause"))
    )
    _write_private(paths.cni_conf / "10-autocloud.conflist", node.cni_config())
    _write_private(lay.configs / "kubelet.json", node.kubelet_config(paths, lay.pki, node.cgroup_root(lay.root)))
    _write_private(lay.configs / "kube-proxy.json", node.kube_proxy_config(lay.component_kubeconfig("kube-proxy")))
