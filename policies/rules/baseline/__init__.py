"""Security baseline: private networking, TLS 1.2, no local keys, required tags. Relaxable per stack."""
