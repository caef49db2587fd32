"""One StackSecret (a Pulumi dynamic resource), exported as a secret and as a digest that shows whether it changed."""

import hashlib

import pulumi

from components.stack_secret import StackSecret

secret = StackSecret("link")
pulumi.export("value", secret.value)
pulumi.export("digest", pulumi.Output.unsecret(secret.value.apply(lambda v: hashlib.sha256(v.encode()).hexdigest())))
