"""Health probes of every kind, and when they run.

Network probes (`http`, `tcp`, `a2a`) run on one selector thread (`probes.loop`), so a slow
agent never blocks an actor's thread and an idle check costs one wake-up. There is no
separate TCP check while an agent starts: a refused connect already fails the probe at
once, and cheaply, until the agent listens. `exec` probes start a process (locally, over
SSH, or in the container), which blocks, so they run on a small pool of threads; they
are the costly kind and meant for agents that offer nothing else. `log` readiness needs
no probe at all: the agent actor matches output lines as they arrive.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
from collections.abc import Callable

from agentsup.job.models import EffectiveProbe, ProbeType
from agentsup.probes.loop import ProbeHandle, ProbeLoop
from agentsup.probes.polling import (
    FAST_PERIOD,
    FAST_POLL,
    Polling,
    next_readiness_delay,
    readiness_delay,
)
from agentsup.probes.request import ProbeRequest, ProbeResult, probe_request

__all__ = ["FAST_PERIOD", "FAST_POLL", "Polling", "ProbeHandle", "ProbeRequest", "ProbeResult",
           "Prober", "network_request", "next_readiness_delay", "readiness_delay"]

EXEC_WORKERS = 8
"""Exec probes that may run at once; more wait their turn."""

def network_request(url: str, probe: EffectiveProbe) -> ProbeRequest:
    """The probe loop's request for an `http`, `tcp` or `a2a` probe of the agent at `url`.

    Raises ValueError for what cannot be probed (a CA file that cannot be read)."""
    kind = {ProbeType.HTTP: "http", ProbeType.TCP: "tcp", ProbeType.A2A: "a2a"}[probe.type]
    return probe_request(
        url, probe.timeout, kind=kind,  # type: ignore[arg-type]
        path=probe.path if probe.type is ProbeType.HTTP else "",
        scheme=probe.scheme, ca_file=probe.ca_file,
    )


class Prober:
    """The job's probes. `done` callbacks run on the probe thread (or an exec thread) and
    must only pass the result on (agent actors `tell` it to themselves)."""

    def __init__(self) -> None:
        self._loop = ProbeLoop()
        self._exec = concurrent.futures.ThreadPoolExecutor(
            EXEC_WORKERS, thread_name_prefix="agentsup-exec"
        )

    def schedule(
        self, delay: float, request: ProbeRequest, done: Callable[[ProbeResult], None],
        *, repeat: bool = False,
    ) -> ProbeHandle:
        """Probe after `delay` seconds; cancel the handle to call it off. With `repeat`,
        passes are not passed on and the probe runs every `delay` seconds until one
        fails (`ProbeLoop.schedule`)."""
        return self._loop.schedule(delay, request, done, repeat=repeat)

    def poll(
        self, delay: float, request: ProbeRequest, done: Callable[[ProbeResult], None],
        polling: Polling, *, here: bool = False,
    ) -> ProbeHandle:
        """Probe after `delay` seconds, then again after each failure on the readiness
        schedule (`Polling`), reporting only a pass or the failure at the deadline.
        `here`: the agent runs on this machine, so attempts wait for a listener on the
        port (`ProbeLoop.schedule(gated=True)`)."""
        return self._loop.schedule(delay, request, done, polling=polling, gated=here)

    def flush(self, handle: ProbeHandle, done: Callable[[ProbeResult], None]) -> None:
        """End a polling probe and pass its last failure to `done` (an empty reason if
        none failed yet), from the probe thread like every result (`ProbeLoop.flush`)."""
        self._loop.flush(handle, done)

    def run_exec(
        self, check: Callable[[], ProbeResult], done: Callable[[ProbeResult], None]
    ) -> None:
        """Run a blocking check (an exec probe) on the exec pool and pass its result on."""

        def work() -> None:
            try:
                result = check()
            except Exception as exc:  # a runner bug must still answer the probe
                result = ProbeResult(False, f"the check failed: {exc}")
            done(result)

        with contextlib.suppress(RuntimeError):  # shut down: the job is stopping
            self._exec.submit(work)

    def close(self) -> None:
        self._loop.close()
        self._exec.shutdown(wait=False, cancel_futures=True)
