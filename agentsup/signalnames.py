"""Signals by name in everything people and pipelines read.

Events carry `signal` as a name (`"SIGKILL"`), never a number: numbers differ between
systems, and one field with two types cannot be filtered with one jq expression.
"""

from __future__ import annotations

import signal

KILL_AT_ONCE = "SIGQUIT"
"""The stop signal whose first arrival already kills every agent at once (`signals`),
as only a second one of the others does; the live view words its kill differently."""


def signal_name(number: int) -> str:
    """`9` -> `"SIGKILL"`; a number Python has no name for -> `"SIG<number>"`."""
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"SIG{number}"
