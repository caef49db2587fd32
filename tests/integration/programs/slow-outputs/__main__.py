"""A program with only stack outputs, for the state backend tests: no provider, no cluster.

`delay` seconds are spent inside an apply, after writing `marker` (a file path), so a test can start
a second update while this one certainly holds the stack's lock.
"""

import pathlib
import time

import pulumi

config = pulumi.Config()
greeting = config.get("greeting") or "hello"
delay = config.get_float("delay") or 0.0
marker = config.get("marker")


def slowly(value: str) -> str:
    if marker:
        pathlib.Path(marker).write_text("running\n")
    time.sleep(delay)
    return value


pulumi.export("greeting", pulumi.Output.from_input(greeting).apply(slowly))
pulumi.export("region", "eu")
pulumi.export("token", pulumi.Output.secret("not-in-plain-text"))
