"""What runs things here: the built toolchain, the embedded cluster and its node, local images, the
Pulumi engine (Automation API) and its state backend."""
