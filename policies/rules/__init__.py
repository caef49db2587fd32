"""Policy rules, one per module: `residency/`, `baseline/`, `kubernetes/`. Each module exposes `RULE`."""
