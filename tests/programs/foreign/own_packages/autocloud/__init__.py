"""The program's own helpers (a regular package)."""
