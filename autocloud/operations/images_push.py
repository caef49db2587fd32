"""``autocloud images push --stack azure-<r>``: the platform's images into the region's registry.

The services the Azure stacks deliver (the state writer) run the same images as the local stacks, built
here from the toolchain's binaries (``autocloud.runtime.images``), tagged alike, and pulled by the
cluster's kubelet identity from ``<registry>.azurecr.io/<repository>:<tag>``. The registry's login server
is read from the deployed stack's outputs (``endpoints.registry.login_server``). The push signs in with
the Azure CLI's identity (it needs AcrPush on the registry) and must run from a machine that reaches the
registry's private endpoint: its public network access is disabled (``docs/azure.md``, "The registry").
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autocloud.runtime import images
from autocloud.runtime.engine import stack_outputs
from autocloud.runtime.registry_push import RegistryClient, read_archive
from components.services import registry_image
from platform_model.errors import AutocloudError, InputError, excerpt
from platform_model.stack import require_stack, stack_config

AZURE_IMAGES = ("statewriter",)
"""The images the Azure stacks' delivered workloads run (``components.services``)."""
TOKEN_USER = "00000000-0000-0000-0000-000000000000"
"""The user name that goes with a token from ``az acr login --expose-token`` (ACR authentication overview)."""


@dataclass(frozen=True)
class PushedImage:
    reference: str
    digest: str


def acr_token(registry: str) -> str:
    """An ACR token for ``registry`` from the signed-in Azure CLI (``az acr login --expose-token``)."""
    command = ["az", "acr", "login", "--name", registry, "--expose-token", "--output", "json"]
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=120)
    except FileNotFoundError:
        raise AutocloudError("images push: the Azure CLI (az) is needed; install it and run az login") from None
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise AutocloudError(f"images push: az acr login --name {registry} failed: {last}")
    return str(json.loads(done.stdout)["accessToken"])


def _login_server(stack: str, outputs: Mapping[str, Any]) -> str:
    registry = (outputs.get("endpoints") or {}).get("registry")
    if not isinstance(registry, Mapping) or not isinstance(registry.get("login_server"), str):
        raise InputError(f"images push: stack {stack} has no registry in its outputs (apply it first)")
    return str(registry["login_server"])


def push_stack_images(
    stack: str,
    out_dir: Path,
    echo: Callable[[str], None],
    outputs: Callable[[str], Mapping[str, Any]] = stack_outputs,
    token: Callable[[str], str] = acr_token,
    registry_url: str | None = None,
    specs: Sequence[images.ImageSpec] | None = None,
) -> list[PushedImage]:
    """Build (or reuse) the Azure stacks' images and push each to ``stack``'s registry."""
    require_stack(stack, "images push")
    config = stack_config(stack)
    if config.target != "azure":
        raise InputError(f"images push: stack {excerpt(stack)} is local; its images are imported into the node")
    server = _login_server(stack, outputs(stack))
    registry = server.split(".", 1)[0]
    chosen = specs if specs is not None else [s for s in images.program_images() if s.name in AZURE_IMAGES]
    built = images.build(out_dir, chosen)
    client = RegistryClient(registry_url or f"https://{server}", TOKEN_USER, token(registry))
    pushed: list[PushedImage] = []
    for spec, image in zip(chosen, built, strict=True):
        # The reference the delivered workloads name (components.services), so what is pushed is what runs.
        reference = str(registry_image(server, spec.reference))
        repository, tag = reference.removeprefix(f"{server}/").rsplit(":", 1)
        digest = client.push(read_archive(image.tarball), repository, tag, echo)
        echo(f"{reference}  {digest}")
        pushed.append(PushedImage(reference, digest))
    return pushed
