"""When the runs of a repeating probe fall due: pure arithmetic of `_Chain`, no sockets.

Liveness checks run at a fixed rate on multiples of their interval, so the checks of
many agents share a wake-up of the probe loop (see `agentsup.probes.loop._Chain`)."""

from __future__ import annotations

import itertools

import pytest

from agentsup.probes.loop import ALIGN_FROM, CHAIN_SLOTS, _Chain


def test_the_first_run_is_on_the_next_multiple_after_one_interval() -> None:
    step = 5.0 / CHAIN_SLOTS
    chain = _Chain(5.0, now=12.3)
    assert chain.due >= 17.3
    assert chain.due - 17.3 < step
    assert chain.due / step == pytest.approx(round(chain.due / step), abs=1e-9)


def test_chains_started_apart_share_their_due_times() -> None:
    early, late = _Chain(5.0, now=100.2), _Chain(5.0, now=100.2 + 5.0 / CHAIN_SLOTS - 0.4)
    assert early.due == late.due
    for _ in range(50):
        now = early.due + 0.01
        assert early.next_due(now) == late.next_due(now)


def test_runs_stay_one_interval_apart_and_exactly_on_the_grid() -> None:
    chain = _Chain(3.0, now=7.0)
    first = chain.due
    dues = [chain.next_due(chain.due + 0.002) for _ in range(1000)]
    assert dues[0] == pytest.approx(first + 3.0)
    assert dues[-1] == pytest.approx(first + 3000.0)
    step = 3.0 / CHAIN_SLOTS
    assert all(due == round(due / step) * step for due in dues)  # no drift
    assert all(b - a == pytest.approx(3.0) for a, b in itertools.pairwise(dues))


def test_a_run_that_overran_skips_the_runs_it_overlapped() -> None:
    chain = _Chain(5.0, now=0.0)
    due = chain.due
    # The run due at `due` ended 12 s later: the runs at due+5 and due+10 are past.
    assert chain.next_due(due + 12.0) == pytest.approx(due + 15.0)
    # Ending exactly on a due time does not run it at once either.
    assert chain.next_due(due + 20.0) == pytest.approx(due + 25.0)


def test_short_intervals_are_not_put_on_a_grid() -> None:
    interval = ALIGN_FROM / 20
    chain = _Chain(interval, now=1.234)
    assert chain.due == pytest.approx(1.234 + interval)
    assert chain.next_due(chain.due + 0.001) == pytest.approx(1.234 + 2 * interval)
