"""Imports a package it never declares (no requirements.txt): the check says which and where."""

import pulumi_gcp  # noqa: F401
