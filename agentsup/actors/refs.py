"""Sending to an actor that may already have stopped."""

from __future__ import annotations

import contextlib
from typing import Any

import pykka


def tell_quietly(ref: pykka.ActorRef[Any], message: object) -> None:
    """`tell`, ignoring an actor that has stopped: at the end of a job, late news from
    runner, timer and probe threads has nowhere to go and needs nowhere to go."""
    with contextlib.suppress(pykka.ActorDeadError):
        ref.tell(message)
