"""Deployability: Azure's own constraints that a first `pulumi up` would hit, each with its source."""
