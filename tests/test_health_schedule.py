"""The readiness polling schedule: fast at first, then backing off towards `interval`."""

from __future__ import annotations

from itertools import pairwise

import pytest

from agentsup.probes.prober import readiness_delay


def schedule(interval: float, until: float) -> list[tuple[float, float]]:
    """(elapsed, delay) pairs of a starting agent that never answers, on a fake clock."""
    elapsed = 0.0
    previous: float | None = None
    out = []
    while elapsed < until:
        delay = readiness_delay(previous, elapsed, interval)
        out.append((elapsed, delay))
        previous = delay
        elapsed += delay
    return out


@pytest.mark.parametrize("elapsed", [0.0, 0.01, 0.5, 1.0, 1.99])
def test_every_10_ms_during_the_first_two_seconds(elapsed: float) -> None:
    assert readiness_delay(None, elapsed, 10.0) == pytest.approx(0.01)
    assert readiness_delay(0.01, elapsed, 10.0) == pytest.approx(0.01)


def test_the_first_two_seconds_are_all_fast_polls() -> None:
    fast = [delay for elapsed, delay in schedule(10.0, 2.0) if elapsed < 2.0]
    assert len(fast) >= 190  # about two hundred probes: ready within milliseconds
    assert all(delay == pytest.approx(0.01) for delay in fast)


def test_after_two_seconds_delays_grow_by_half() -> None:
    assert readiness_delay(0.01, 2.0, 10.0) == pytest.approx(0.015)
    assert readiness_delay(0.02, 2.0, 10.0) == pytest.approx(0.03)
    assert readiness_delay(0.03, 2.1, 10.0) == pytest.approx(0.045)
    assert readiness_delay(1.0, 5.0, 10.0) == pytest.approx(1.5)


def test_growth_after_two_seconds_on_a_fake_clock() -> None:
    late = [delay for elapsed, delay in schedule(10.0, 60.0) if elapsed >= 2.0]
    ratios = [b / a for a, b in pairwise(late) if b < 10.0]
    assert ratios and all(r == pytest.approx(1.5) for r in ratios)
    assert late[-1] == 10.0


@pytest.mark.parametrize("interval", [0.01, 0.02, 0.1, 0.5, 3.0])
def test_never_above_interval(interval: float) -> None:
    for elapsed, delay in schedule(interval, 60.0):
        assert 0 < delay <= interval, (elapsed, delay)
    assert readiness_delay(100.0, 50.0, interval) == interval


def test_first_probe_after_two_seconds_without_a_previous_delay_is_fast() -> None:
    assert readiness_delay(None, 5.0, 10.0) == pytest.approx(0.01)


def test_a_tiny_previous_delay_grows_from_the_fast_poll() -> None:
    assert readiness_delay(0.001, 3.0, 10.0) == pytest.approx(0.015)
