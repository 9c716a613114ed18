"""`StopSignals`: before agents run, when `Interrupted` is raised, and that it is raised
once; while they run, what each signal tells the supervisor.

The handler is called directly here, as the interpreter would call it; the end-to-end
behaviour (a real SIGTERM while the actors are made) is in test_start.py, a real
SIGQUIT to a running job in test_quit_signal.py.
"""

from __future__ import annotations

import queue
import signal
from concurrent.futures import Future
from typing import Any

import pykka
import pytest

from agentsup.messages import KillAll, StopJob
from agentsup.signals import Interrupted, StopSignals
from tests.recorder import Recorder


def test_a_signal_before_agents_run_interrupts_the_set_up() -> None:
    signals = StopSignals()
    with pytest.raises(Interrupted) as raised:
        signals(signal.SIGINT, None)
    assert raised.value.signal == "SIGINT"


def test_a_held_signal_is_raised_when_the_block_ends_with_the_first_name() -> None:
    signals = StopSignals()
    reached_the_end = False
    with pytest.raises(Interrupted) as raised, signals.held():
        signals(signal.SIGTERM, None)  # noted, not raised
        signals(signal.SIGHUP, None)
        reached_the_end = True
    assert reached_the_end
    assert raised.value.signal == "SIGTERM"


def test_a_block_that_fails_keeps_its_own_exception() -> None:
    signals = StopSignals()
    with pytest.raises(KeyError), signals.held():
        signals(signal.SIGTERM, None)
        raise KeyError("set-up failed")


def test_a_holding_block_without_signals_raises_nothing() -> None:
    signals = StopSignals()
    with signals.held():
        pass


def test_later_signals_leave_the_clean_up_alone() -> None:
    signals = StopSignals()
    with pytest.raises(Interrupted):
        signals(signal.SIGTERM, None)
    signals(signal.SIGINT, None)  # during the clean-up the first one started: ignored
    with signals.held():
        signals(signal.SIGTERM, None)


# ------------------------------------------------------------------ while agents run


def _running_signals() -> tuple[StopSignals, queue.Queue[Any], pykka.ActorRef[Any]]:
    seen: queue.Queue[Any] = queue.Queue()
    inbox = Recorder.start(seen)  # stands for the supervisor
    signals = StopSignals()
    signals.running(inbox, Future())
    return signals, seen, inbox


def test_the_first_stop_signal_stops_the_job_and_the_second_kills_it() -> None:
    signals, seen, inbox = _running_signals()
    try:
        signals(signal.SIGINT, None)
        signals(signal.SIGTERM, None)
        assert seen.get(timeout=5) == StopJob("SIGINT")
        assert seen.get(timeout=5) == KillAll("SIGTERM")
    finally:
        inbox.stop()


def test_sigquit_kills_everything_from_the_first() -> None:
    # Ctrl-\ on the terminal: no ordered stop first.
    signals, seen, inbox = _running_signals()
    try:
        signals(signal.SIGQUIT, None)
        assert seen.get(timeout=5) == KillAll("SIGQUIT")
    finally:
        inbox.stop()


def test_sigquit_before_agents_run_interrupts_the_set_up_like_the_others() -> None:
    with pytest.raises(Interrupted) as raised:
        StopSignals()(signal.SIGQUIT, None)
    assert raised.value.signal == "SIGQUIT"
