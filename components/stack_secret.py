"""A random secret the stack makes once and then keeps in its state, with no provider plugin to build.

The DPS link keys (``components.telemetry.dps_link_secret``) derive from such a secret. It is a Pulumi
dynamic resource: its provider is this module's Python, run by the engine through the
``pulumi-resource-pulumi-python`` shim the toolchain installs beside the Python language host, so the
Azure stacks need no plugin beyond azure-native. The value is made by ``create`` on the first apply
(never in a preview), is an additional secret output (encrypted by the stack's secrets provider), and
never changes afterwards: ``diff`` reports no change whatever the inputs, so only
``pulumi up --replace <urn>`` makes a new one.
"""

from __future__ import annotations

import secrets
import uuid
from typing import Any

import pulumi
import pulumi.dynamic

SECRET_BYTES = 48
"""Entropy of the value (384 bits); ``token_urlsafe`` spells it as 64 characters."""
VALUE = "value"


class _StackSecretProvider(pulumi.dynamic.ResourceProvider):
    """Makes the value once; every later diff keeps it."""

    def create(self, props: Any) -> pulumi.dynamic.CreateResult:
        return pulumi.dynamic.CreateResult(id_=uuid.uuid4().hex, outs={VALUE: secrets.token_urlsafe(SECRET_BYTES)})

    def diff(self, _id: str, _olds: Any, _news: Any) -> pulumi.dynamic.DiffResult:
        return pulumi.dynamic.DiffResult(changes=False)


class StackSecret(pulumi.dynamic.Resource):
    """A random secret owned by the stack; read it as :attr:`value` (a Pulumi secret)."""

    value: pulumi.Output[str]

    def __init__(self, name: str, opts: pulumi.ResourceOptions | None = None) -> None:
        secret_outputs = pulumi.ResourceOptions(additional_secret_outputs=[VALUE])
        super().__init__(
            _StackSecretProvider(), name, {VALUE: None}, pulumi.ResourceOptions.merge(opts, secret_outputs)
        )
