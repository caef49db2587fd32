"""`autocloud check`: run a Pulumi program as `pulumi preview` would, under mocks, and judge it with every pack.

`command` is the command (targets, outcomes, formats), `targets` turns its options and the stack
files into programs to run, `program_env` finds the interpreter a program runs with and `runner`
runs it there, with `collector` keeping that run fast. This file imports nothing: `runner` is
started inside a checked program's own Python environment, which has the Pulumi SDK and none of
the checker's libraries, and importing `autocloud.verification.check.runner` runs this first.
"""
