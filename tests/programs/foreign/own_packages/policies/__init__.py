"""The program's own tag policy (a regular package)."""

TAGS = {"region": "eu", "data-residency": "eu", "data-classification": "vehicle-data"}
