"""Health probes: an HTTP GET of the agent's URL and path; any 2xx is healthy.

Every probe of a job runs on one selector thread (`probeloop`), so a slow agent never
blocks an actor's thread and an idle check costs one wake-up. There is no separate TCP
check while an agent starts: a refused connect already fails the probe at once, and
cheaply, until the agent listens.
"""

from __future__ import annotations

from collections.abc import Callable

from agentsup.probeloop import ProbeHandle, ProbeLoop, ProbeResult

__all__ = ["FAST_PERIOD", "FAST_POLL", "ProbeHandle", "ProbeResult", "Prober",
           "readiness_delay"]

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


class Prober:
    """The job's probes. `done` callbacks run on the probe thread and must only pass
    the result on (agent actors `tell` it to themselves)."""

    def __init__(self) -> None:
        self._loop = ProbeLoop()

    def schedule(
        self, delay: float, url: str, timeout: float, done: Callable[[ProbeResult], None]
    ) -> ProbeHandle:
        """Probe `url` after `delay` seconds; cancel the handle to call it off."""
        return self._loop.schedule(delay, url, timeout, done)

    def close(self) -> None:
        self._loop.close()
