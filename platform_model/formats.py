"""What a command prints: one vocabulary of `--format` values, so every command offers and refuses
them alike (the CLI turns a subset of these into each command's choice)."""

from __future__ import annotations

from enum import StrEnum


class OutputFormat(StrEnum):
    TEXT = "text"
    TABLE = "table"
    JSON = "json"
    MARKDOWN = "markdown"
    HTML = "html"

    @property
    def is_document(self) -> bool:
        """A document another program reads (`| jq`, a pull-request comment): printed, it owns stdout,
        and progress goes to stderr."""
        return self in (OutputFormat.JSON, OutputFormat.MARKDOWN)
