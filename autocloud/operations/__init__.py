"""Changing stacks: deploy and preview one stack, walk rollouts with progress, simulate a fleet."""
