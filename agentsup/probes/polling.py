"""When a starting agent's readiness probe runs again after a failure: pure arithmetic,
shared by the agent's logic (`AgentLogic`) and the probe loop, which repeats failed
readiness probes itself (`ProbeLoop.schedule(polling=...)`)."""

from __future__ import annotations

import msgspec

FAST_POLL = 0.01
FAST_PERIOD = 2.0
BACKOFF_FACTOR = 1.5


def readiness_delay(previous: float | None, elapsed: float, interval: float) -> float:
    """The pause before the next readiness probe.

    Every 10 ms for the first two seconds (so `agent.ready` follows listening within tens
    of milliseconds), then growing by half each time, never beyond `interval`.
    """
    if elapsed < FAST_PERIOD or previous is None:
        return min(FAST_POLL, interval)
    return min(max(previous, FAST_POLL) * BACKOFF_FACTOR, interval)


def next_readiness_delay(
    previous: float | None, elapsed: float, timeout: float, interval: float
) -> float | None:
    """The pause before the readiness probe that follows a failed one, `elapsed` seconds
    after the launch, or None once the start `timeout` has passed. The next probe is
    never put off past the deadline, so the last one runs at it."""
    if elapsed >= timeout:
        return None
    return min(readiness_delay(previous, elapsed, interval), max(timeout - elapsed, 0.0))


class Polling(msgspec.Struct, frozen=True):
    """A readiness probe that the probe loop repeats itself after each failure, on the
    schedule of `next_readiness_delay`, as the agent's logic would have asked.

    `elapsed` is the time since the launch when the probe was asked for, `previous`
    the pause before it. While an agent boots its probe fails every 10 ms; kept in the
    loop, a failed attempt costs no message to the actor and no wake-up of its thread.
    The loop reports the first pass, or the failure at the start deadline; it keeps
    the last failure's reason for `Prober.flush`."""

    elapsed: float
    timeout: float
    interval: float
    previous: float | None = None

    def after(self, spent: float) -> tuple[float, Polling] | None:
        """The pause before the next attempt when one fails `spent` seconds after this
        probe was asked for, with the polling that attempt carries; None at the deadline."""
        elapsed = self.elapsed + spent
        delay = next_readiness_delay(self.previous, elapsed, self.timeout, self.interval)
        if delay is None:
            return None
        return delay, Polling(elapsed, self.timeout, self.interval, delay)
