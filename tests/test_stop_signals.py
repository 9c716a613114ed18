"""`StopSignals` before agents run: when `Interrupted` is raised, and that it is raised once.

The handler is called directly here, as the interpreter would call it; the end-to-end
behaviour (a real SIGTERM while the actors are made) is in test_start.py.
"""

from __future__ import annotations

import signal

import pytest

from agentsup.signals import Interrupted, StopSignals


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
