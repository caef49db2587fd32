"""Policy rules, one module per rule under ``<pack>/``, each exposing ``RULE``; `policies.packs` finds them."""
