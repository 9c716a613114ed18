"""SIGINT, SIGTERM, SIGHUP and SIGQUIT: the main thread's only job once a job runs.

Handlers are installed on the main thread only, for as long as a `with trapped(...)`
block lasts, and the previous ones are put back afterwards. SIGHUP (the terminal closed,
the SSH session dropped) is a graceful stop like SIGINT and SIGTERM; left at its default
it would kill agentsup on the spot, with no events and no SIGTERM to the agents.

SIGQUIT (Ctrl-\\ on a terminal) is how a person says "now": it kills everything at
once, as a second stop signal does, without the ordered stop first. Left at its default
it too would end agentsup on the spot (and dump its core): the local agents would go
with the reaper, but containers, remote agents and swarm services would be left
running, and the live view's terminal with its cursor hidden.

A SIGHUP that was already ignored when agentsup started stays ignored: that is what
`nohup agentsup start job.yaml &` asks for, and a job started so must outlive the
terminal. It is ignored by a handler that does nothing rather than by `SIG_IGN`, because
an ignored signal is inherited through `exec` and a caught one is not: the agents start
with SIGHUP at its default, as they would without `nohup`, and an agent whose
`stop_signal` is SIGHUP still stops.
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
from agentsup.signalnames import KILL_AT_ONCE

Handler = Callable[[int, FrameType | None], None]
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)


def ignore_signal(_signum: int, _frame: FrameType | None) -> None:
    """Stands for `SIG_IGN` where the processes agentsup starts must not inherit it."""


def hangup_ignored() -> bool:
    """Whether SIGHUP is ignored now, as `nohup` leaves it (or as `ignore_signal` does)."""
    return signal.getsignal(signal.SIGHUP) in (signal.SIG_IGN, ignore_signal)


@contextlib.contextmanager
def trapped(handler: Handler, *, ignore_after: bool = False) -> Iterator[None]:
    """Install `handler` for the stop signals while the block runs (SIGHUP only if it was
    not ignored when the block began).

    With `ignore_after` the signals are ignored afterwards instead of getting their old
    handlers back: once the job has reported its exit code, a late signal must not turn
    it into death by signal on the way out.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.signal(signum, handler) for signum in STOP_SIGNALS}
    if previous[signal.SIGHUP] in (signal.SIG_IGN, ignore_signal):
        signal.signal(signal.SIGHUP, ignore_signal)
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
    While agents run the first signal becomes `StopJob`, any later one `KillAll`, and
    SIGQUIT is `KillAll` from the first. Once
    the job has finished (`finished` is done, so `job.stopped` is out with its exit
    code) signals are ignored.
    """

    def __init__(self) -> None:
        self.supervisor: pykka.ActorRef[Any] | None = None
        self.finished: Future[int] | None = None
        self.received = 0
        self._interrupting = False
        self._holding = False
        self._held: list[str] = []

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        """Note the signals that come while the block runs, and act on them after it, in
        order, as they would have been acted on then.

        Two kinds of block need it. While an actor thread is started: `Interrupted`
        raised inside pykka's `start` would unwind past a thread that already runs but
        is not yet known to anyone who could stop it, and that thread would keep the
        process from ever exiting. While the main thread tells the supervisor things:
        the handler runs on the main thread between two bytecodes, maybe inside a
        `tell` that holds the lock of the supervisor's inbox, and its own `tell` would
        wait for that lock for ever. A block that raises keeps its own exception, and
        what it held goes with it: its clean-up stops everything anyway.
        """
        self._holding = True
        try:
            yield
        finally:
            self._holding = False
            held, self._held = self._held, []
        for name in held:
            self._act(name)

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
        if self._holding:
            self._held.append(name)
            return
        self._act(name)

    def _act(self, name: str) -> None:
        if self.finished is not None and self.finished.done():
            return
        if self.supervisor is None:
            # One `Interrupted` only: a second one would cut short the clean-up the
            # first one started.
            if self._interrupting:
                return
            self._interrupting = True
            raise Interrupted(name)
        self.received += 1
        message = (StopJob(name) if self.received == 1 and name != KILL_AT_ONCE
                   else KillAll(name))
        with contextlib.suppress(pykka.ActorDeadError):
            self.supervisor.tell(message)
