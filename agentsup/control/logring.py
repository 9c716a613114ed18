"""The last lines of every agent's output, kept in memory for `agentsup logs`.

The ring is fed by a thin wrapper around each agent's runner, on the runner's own I/O
thread, so neither the agent actor nor the event writer changes. It is a plain shared
structure behind one lock, like the event sink: readers (the control server's threads)
copy lines out and followers get new ones through their own queue.
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Iterable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from agentsup.runners.base import (
    ExecResult,
    ExitCallback,
    LaunchSpec,
    OutputCallback,
    Runner,
    StartInfo,
    Stream,
)

LINES_KEPT = 1000
FOLLOW_BACKLOG = 10_000
"""Lines a follower may fall behind by before the newest are dropped for it: a reader
that stopped reading must not make the supervisor's memory grow."""


@dataclass(frozen=True)
class Line:
    agent: str
    stream: str
    line: str
    seq: int

    def to_json(self) -> dict[str, str]:
        return {"agent": self.agent, "stream": self.stream, "line": self.line}


class Follower:
    """New lines of some agents, as they arrive; `close` when done."""

    def __init__(self, ring: LogRing, agents: frozenset[str]) -> None:
        self._ring = ring
        self.agents = agents
        self.lines: queue.Queue[Line] = queue.Queue(maxsize=FOLLOW_BACKLOG)

    def close(self) -> None:
        self._ring._drop(self)


class LogRing:
    def __init__(self, keep: int = LINES_KEPT) -> None:
        self._keep = keep
        self._lock = threading.Lock()
        self._lines: dict[str, deque[Line]] = {}
        self._followers: list[Follower] = []
        self._seq = 0

    def add(self, agent: str, stream: str, line: str) -> None:
        with self._lock:
            self._seq += 1
            entry = Line(agent, stream, line, self._seq)
            ring = self._lines.get(agent)
            if ring is None:
                ring = self._lines[agent] = deque(maxlen=self._keep)
            ring.append(entry)
            for follower in self._followers:
                if agent in follower.agents:
                    with suppress(queue.Full):
                        follower.lines.put_nowait(entry)

    def tail(self, agents: Iterable[str], count: int) -> list[Line]:
        """The last `count` lines of each agent, merged in the order they arrived."""
        with self._lock:
            return self._tail(agents, count)

    def tail_and_follow(self, agents: Iterable[str], count: int) -> tuple[list[Line], Follower]:
        """The tail and a follower that starts right after it, with no line lost between."""
        wanted = frozenset(agents)
        with self._lock:
            follower = Follower(self, wanted)
            self._followers.append(follower)
            return self._tail(wanted, count), follower

    def _tail(self, agents: Iterable[str], count: int) -> list[Line]:
        picked: list[Line] = []
        for agent in agents:
            lines = self._lines.get(agent)
            if lines and count > 0:
                picked.extend(list(lines)[-count:])
        return sorted(picked, key=lambda entry: entry.seq)

    def _drop(self, follower: Follower) -> None:
        with self._lock:
            if follower in self._followers:
                self._followers.remove(follower)


class TappedRunner(Runner):
    """A runner that copies each output line into the ring before passing it on."""

    def __init__(self, inner: Runner, ring: LogRing, agent_id: str) -> None:
        self.inner = inner
        self.ring = ring
        self.agent_id = agent_id

    def start(
        self, spec: LaunchSpec, on_output: OutputCallback, on_exit: ExitCallback
    ) -> StartInfo:
        ring, agent_id = self.ring, self.agent_id

        def tapped(
            stream: Stream, line: str, part: int | None = None, continued: bool = False
        ) -> None:
            ring.add(agent_id, stream, line)  # a piece of a long line counts as one line
            on_output(stream, line, part, continued)

        return self.inner.start(spec, tapped, on_exit)

    def stop(self, timeout: float) -> None:
        self.inner.stop(timeout)

    def kill(self) -> None:
        self.inner.kill()

    def close(self) -> None:
        self.inner.close()

    def execute(self, argv: Sequence[str], timeout: float) -> ExecResult:
        return self.inner.execute(argv, timeout)

    def local_leader(self) -> int | None:
        return self.inner.local_leader()

    def __getattr__(self, name: str) -> Any:
        """Anything else a target's runner offers (the container id, ...) is the inner
        runner's: the tap only copies output."""
        return getattr(self.inner, name)
