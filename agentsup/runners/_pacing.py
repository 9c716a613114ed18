"""When the hub spawns the next local agent of a burst, and when it tells the callers.

A stage of many agents asks for all its spawns at once, and the agents' boots are what
the machine then spends its cores on. Spawned back to back, they all boot together:
with 200 agents on two cores some sixty booted at any moment, each boot took about
1.2 s of wall time instead of 0.5 s and about a sixth more CPU (their working sets no
longer fit what the cores keep between turns), so the stage took longer than the same
boots taken a few at a time. The kernel sets no such limit itself: every agent leads a
session of its own and so gets a share of its own (autogroup).

So a spawn that follows another within `BURST_GAP` waits, up to `PACE_WAIT`, while the
machine has more runnable tasks than cores (the kernel's count in /proc/loadavg, this
thread included), looking again every `PACE_LOOK`. The first spawn of a burst (a lone
restart, say) never waits; an agent that sleeps or waits on the network while it starts
is not runnable and holds nothing back; and however busy the machine, a spawn waits no
longer than `PACE_WAIT`, so a burst of 200 is delayed by 4 s at most, on a machine whose
cores are full throughout. Where the count cannot be read, nothing waits.

While a burst is under way its callers are told of their spawns together: when no more
requests wait, and at least every `REPORT_EVERY` seconds. Each answer wakes the agent's
actor, which reports `agent.started` and hands the readiness probe to the probe thread;
done for each spawn as it was made, that work ran between the spawns, counted among the
runnable tasks, and the pacing gained less and less evenly (docs/performance.md, item
25). For the same reason the hub does nothing else until the burst's last spawn
(`_hub._HubLoop._spawn_waiting`), which tells every caller before it returns: a caller
is told of its spawn before its process's output or exit is passed on.

A stop or kill of any local agent hurries the burst under way (`hurry`): its remaining
spawns go at once, and the hub handles exits between them. Until its launch is made an
agent's actor keeps its stop for later, so a job stopped during a large start waits for
every spawn of the burst, and paced, that wait was longer than the start it cut short.

Nothing here blocks or touches a process: the hub thread asks (`take`, `answers`,
`timeout`) and spawns; the clock and the count are given, so a test can replay a burst
against fake ones.
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

Request = TypeVar("Request")
Outcome = TypeVar("Outcome")

PACE_WAIT = 0.02
"""Seconds one spawn waits at most for a core to come free."""
PACE_LOOK = 0.002
"""Seconds between looks at the count while a spawn waits."""
BURST_GAP = 0.1
"""A spawn this soon after the last one is part of the same burst, and may wait."""
REPORT_EVERY = 0.1
"""Seconds the callers of a burst wait at most to be told of their spawns."""


class RunnableCount:
    """Tasks runnable on the whole machine at this moment, the caller included (the
    kernel's count in /proc/loadavg); None where the kernel does not say.

    The file is opened once, with the hub, and kept: a look is then one `pread` (1.5 us
    here, against 8 us to open, read and close it), and the hub's descriptors stay the
    same from its first spawn to its close.
    """

    def __init__(self) -> None:
        try:
            self._fd = os.open("/proc/loadavg", os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            self._fd = -1

    def __call__(self) -> int | None:
        if self._fd < 0:
            return None
        try:
            return int(os.pread(self._fd, 128, 0).split()[3].split(b"/")[0])
        except (OSError, ValueError, IndexError):
            return None

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def machine_cores() -> int:
    """The cores the count in /proc/loadavg is about: every online one of the machine,
    not only those this process may use. In a container held to a few cores of a large
    machine the count is the whole machine's, so it is compared with the whole
    machine's cores (and a burst there is paced by the machine's load, if at all)."""
    return os.cpu_count() or 1


class SpawnPacer(Generic[Request, Outcome]):
    """The requests waiting for their spawn, and the outcomes not told yet."""

    def __init__(
        self,
        *,
        runnable: Callable[[], int | None],
        cores: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._runnable = runnable
        self._cores = machine_cores() if cores is None else cores
        self.clock = clock
        self._waiting: deque[Request] = deque()
        self._held: list[tuple[Request, Outcome]] = []
        self._held_since = 0.0
        self._last_spawn = -float("inf")
        self._head_since: float | None = None
        self._hurried = False
        """When the first waiting request started to wait for a core."""

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    def add(self, request: Request) -> None:
        self._waiting.append(request)

    def take(self) -> Request | None:
        """The request to spawn now, or None: none waiting, or the next one waits (ask
        again within `timeout`)."""
        if not self._waiting:
            return None
        now = self.clock()
        if now - self._last_spawn < BURST_GAP and not self._hurried:
            if self._head_since is None:
                self._head_since = now
            if now - self._head_since < PACE_WAIT:
                count = self._runnable()
                if count is not None and count > self._cores:
                    return None
        self._head_since = None
        self._last_spawn = now
        request = self._waiting.popleft()
        if not self._waiting:
            self._hurried = False
        return request

    @property
    def hurried(self) -> bool:
        return self._hurried

    def hurry(self) -> None:
        """Spawn the rest of the burst under way without waiting (from any thread): an
        agent is being stopped, and the hub reports exits only after a burst's last
        spawn. A stop of the job 1 s into a 200-agent start took 2.6 s with the burst
        still paced, against 1.1 s before pacing."""
        if self._waiting:
            self._hurried = True

    def spawned(self, request: Request, outcome: Outcome) -> None:
        """Hold the outcome of a spawn until `answers` gives it out."""
        if not self._held:
            self._held_since = self.clock()
        self._held.append((request, outcome))

    def answers(self, *, now: bool = False) -> list[tuple[Request, Outcome]]:
        """The outcomes to tell their callers now: all of them when `now`, when nothing
        waits to be spawned, or when the oldest has waited `REPORT_EVERY`."""
        if not self._held:
            return []
        if now or not self._waiting or self.clock() - self._held_since >= REPORT_EVERY:
            held, self._held = self._held, []
            return held
        return []

    def drop_waiting(self) -> list[Request]:
        """Every request not spawned yet, forgotten (the hub is closing)."""
        waiting = list(self._waiting)
        self._waiting.clear()
        self._head_since = None
        return waiting

    def timeout(self) -> float | None:
        """How soon the hub must ask again, or None while nothing waits."""
        if not self._waiting and not self._held:
            return None
        now = self.clock()
        due = [self._held_since + REPORT_EVERY - now] if self._held else []
        if self._waiting:
            due.append(0.0 if self._hurried else PACE_LOOK)
        return max(0.0, min(due))
