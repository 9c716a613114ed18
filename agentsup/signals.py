"""SIGINT and SIGTERM: the main thread's only job once a job runs.

Handlers are installed on the main thread only, for as long as a `with trapped(...)`
block lasts, and the previous ones are put back afterwards.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

import pykka

from agentsup.messages import KillAll, StopJob

Handler = Callable[[int, FrameType | None], None]
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def trapped(handler: Handler) -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.signal(signum, handler) for signum in STOP_SIGNALS}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


class Interrupted(Exception):
    """A stop signal arrived before any agent was running."""

    def __init__(self, signal_name: str) -> None:
        super().__init__(signal_name)
        self.signal = signal_name


def interrupt(signum: int, _frame: FrameType | None) -> None:
    """Before agents run, a signal ends the set-up by unwinding it (clean-up included)."""
    raise Interrupted(signal.Signals(signum).name)


class ToSupervisor:
    """While agents run, the first signal becomes `StopJob`, a second one `KillAll`."""

    def __init__(self, supervisor: pykka.ActorRef[Any]) -> None:
        self.supervisor = supervisor
        self.received = 0

    def __call__(self, signum: int, _frame: FrameType | None) -> None:
        self.received += 1
        name = signal.Signals(signum).name
        message = StopJob(name) if self.received == 1 else KillAll(name)
        with contextlib.suppress(pykka.ActorDeadError):
            self.supervisor.tell(message)
