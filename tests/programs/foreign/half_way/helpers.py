"""A helper module of the program: its line is the one an error should name."""

from typing import Any


def endpoint_host(endpoints: Any) -> str:
    return str(endpoints["blob"]).split("/")[2]
