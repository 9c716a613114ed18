"""SIGINT, SIGTERM and SIGHUP: the main thread's only job once a job runs.

Handlers are installed on the main thread only, for as long as a `with trapped(...)`
block lasts, and the previous ones are put back afterwards. SIGHUP (the terminal closed,
the SSH session dropped) is a graceful stop like the other two; left at its default it
would kill agentsup on the spot, with no events and no SIGTERM to the agents.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from types import FrameType
from typing import Any

import pykka

from agentsup.messages import KillAll, StopJob

Handler = Callable[[int, FrameType | None], None]
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@contextlib.contextmanager
def trapped(handler: Handler, *, ignore_after: bool = False) -> Iterator[None]:
    """Install `handler` for the stop signals while the block runs.

    With `ignore_after` the signals are ignored afterwards instead of getting their old
    handlers back: once the job has reported its exit code, a late signal must not turn
    it into death by signal on the way out.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.signal(signum, handler) for signum in STOP_SIGNALS}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, signal.SIG_IGN if ignore_after else old)


class Interrupted(Exception):
    """A stop signal arrived before any agent was running."""

    def __init__(self, signal_name: str) -> None:
        super().__init__(signal_name)
        self.signal = signal_name


class StopSignals:
    """The one handler for the whole of `agentsup start`; what a signal does depends on when.

    Before agents run (`supervisor` unset) it ends the set-up by raising `Interrupted`,
    once, which unwinds it, clean-up included; later signals leave that clean-up alone.
    While agents run the first signal becomes `StopJob`, any later one `KillAll`. Once
    the job has finished (`finished` is done, so `job.stopped` is out with its exit
    code) signals are ignored.
    """

    def __init__(self) -> None:
        self.supervisor: pykka.ActorRef[Any] | None = None
        self.finished: Future[int] | None = None
        self.received = 0
        self._deferring = False
        self._pending: str | None = None
        self._interrupting = False
        self._holding = False
        self._held: list[str] = []

    @contextlib.contextmanager
    def deferred(self) -> Iterator[None]:
        """Hold off `Interrupted` while threads are being started, and raise it after.

        Raised in the middle of starting an actor, it would unwind past a thread that
        is already running but not yet known to anyone who could stop it, and that
        thread would keep the process from ever exiting. Inside, a signal before agents
        run is only noted; it is raised when the block ends (unless the block raised).
        """
        self._deferring = True
        try:
            yield
        finally:
            self._deferring = False
        if self._pending is not None:
            name, self._pending = self._pending, None
            self._interrupting = True
            raise Interrupted(name)

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        """While the main thread itself tells the supervisor things, hold the signals
        that come, and pass them on after, in order.

        A handler runs on the main thread between two bytecodes, maybe inside a `tell`
        that holds the lock of the supervisor's inbox; its own `tell` would wait for
        that lock for ever. The job is starting meanwhile, so a held signal is still a
        graceful stop, only a little later.
        """
        self._holding = True
        try:
            yield
        finally:
            self._holding = False
            held, self._held = self._held, []
            for name in held:
                self._deliver(name)

    def running(self, supervisor: pykka.ActorRef[Any], finished: Future[int]) -> None:
        self.supervisor = supervisor
        self.finished = finished

    def done(self) -> None:
        """The job is over: from now on signals change nothing."""
        self.supervisor = None
        self.finished = Future()
        self.finished.set_result(0)

    def __call__(self, signum: int, _frame: FrameType | None) -> None:
        if self.finished is not None and self.finished.done():
            return
        name = signal.Signals(signum).name
        if self.supervisor is None:
            # One `Interrupted` only: a second one would cut short the clean-up the
            # first one started.
            if self._interrupting:
                return
            if self._deferring:
                self._pending = self._pending or name
                return
            self._interrupting = True
            raise Interrupted(name)
        if self._holding:
            self._held.append(name)
            return
        self._deliver(name)

    def _deliver(self, name: str) -> None:
        if self.supervisor is None or (self.finished is not None and self.finished.done()):
            return
        self.received += 1
        message = StopJob(name) if self.received == 1 else KillAll(name)
        with contextlib.suppress(pykka.ActorDeadError):
            self.supervisor.tell(message)
