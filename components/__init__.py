"""Pulumi components, one module per capability: the azure target here, the local target in
``components.local``, both behind the outputs and args of ``components.contracts``."""
