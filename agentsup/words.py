"""How counts read in agentsup's sentences, for every command's output.

A module of its own, with no imports, so that `validate` and `plan` can say "3 agents"
as the event text and the live view do without loading what those need.
"""


def plural(count: object, noun: str) -> str:
    """`1 agent`, `3 agents`."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"
