"""Facts the rules share and `autocloud check`/`report` read too: Azure type tokens and locations,
Kubernetes namespaces and their regions, and safe reads of engine props."""
