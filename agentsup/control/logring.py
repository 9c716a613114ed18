"""The last lines of every agent's output, kept in memory for `agentsup logs`.

The ring is fed by a thin wrapper around each agent's runner, on the runner's own I/O
thread, so neither the agent actor nor the event writer changes. It is a plain shared
structure behind one lock, like the event sink: readers (the control server's threads)
copy lines out and followers get new ones through their own queue.

Lines come in a read at a time (`add_lines`): one lock for the whole batch, and the
ring keeps the batches themselves, making entries of their lines only for a follower or
a `tail`.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future
from typing import Any, NamedTuple

from agentsup.runners.base import (
    BatchOutput,
    ExecResult,
    ExitCallback,
    LaunchSpec,
    OutputCallback,
    Runner,
    StartInfo,
    Stream,
    deliver,
    flow_of,
)
from agentsup.runners.lines import LineBatch

LINES_KEPT = 1000
FOLLOW_BACKLOG = 4 << 20
"""Bytes of text a follower may fall behind by before new lines are dropped for it (as
much as the event stream holds for a slow reader): a reader that stopped reading must
not make the supervisor's memory grow. What is dropped is counted and reported in its
place (`Missed`)."""
LINE_COST = 64
"""What a line counts for beyond its text: its entry's own size, roughly, so that a
flood of empty lines is bounded too."""


class Line(NamedTuple):
    agent: str
    stream: str
    line: str
    seq: int

    def to_json(self) -> dict[str, str | int]:
        return {"agent": self.agent, "stream": self.stream, "line": self.line}


class Missed(NamedTuple):
    """Lines of `agent` a follower did not get, because it had fallen too far behind."""

    agent: str
    number: int

    def to_json(self) -> dict[str, str | int]:
        return {"agent": self.agent, "missed": self.number}


class Follower:
    """New lines of some agents (`None`: every agent, those a reload adds too), as they
    arrive; `close` when done.

    Its entries live behind the ring's lock, and `take` hands over all that are waiting
    at once, so that a fast agent's lines reach the reader in large writes instead of a
    write each.
    """

    def __init__(self, ring: LogRing, agents: frozenset[str] | None) -> None:
        self._ring = ring
        self.agents = agents
        self._entries: deque[Line | Missed] = deque()
        self._missed: dict[str, int] = {}
        self._size = 0
        self._waiting = threading.Condition(ring._lock)

    def wants(self, agent: str) -> bool:
        return self.agents is None or agent in self.agents

    def take(self, timeout: float | None = None) -> list[Line | Missed]:
        """Every entry waiting, in order; waits up to `timeout` for the first one."""
        with self._waiting:
            if not self._entries and timeout != 0 and not self._ring.ended:
                self._waiting.wait(timeout)
            entries = list(self._entries)
            self._entries.clear()
            self._size = 0
            return entries

    def close(self) -> None:
        self._ring._drop(self)

    def _offer(self, agent: str, stream: str, lines: Sequence[str], first: int) -> None:
        """Called with the ring's lock held. A count of what was dropped goes in where the
        lines went missing, once there is room again."""
        room = FOLLOW_BACKLOG - self._size
        if self._missed and room > 0:
            self._entries.extend(Missed(a, n) for a, n in self._missed.items())
            self._missed.clear()
        taken = 0
        for seq, line in enumerate(lines, first):
            if room <= 0:
                break
            self._entries.append(Line(agent, stream, line, seq))
            cost = len(line) + LINE_COST
            room -= cost
            self._size += cost
            taken += 1
        if taken < len(lines):
            self._missed[agent] = self._missed.get(agent, 0) + len(lines) - taken
        if taken:
            self._waiting.notify()


class _Chunk(NamedTuple):
    """Lines of one stream as they were added together; `first` is the first one's seq."""

    first: int
    stream: str
    lines: Sequence[str]


class _Kept:
    """One agent's last lines, kept as the chunks they came in."""

    __slots__ = ("chunks", "count")

    def __init__(self) -> None:
        self.chunks: deque[_Chunk] = deque()
        self.count = 0


class LogRing:
    def __init__(self, keep: int = LINES_KEPT) -> None:
        self._keep = keep
        self._lock = threading.Lock()
        self._kept: dict[str, _Kept] = {}
        self._followers: list[Follower] = []
        self._seq = 0
        self._gone = threading.Condition(self._lock)
        self.ended = False
        """Set under the lock by `end_followers`: a follower no longer waits for lines."""

    def add(self, agent: str, stream: str, line: str) -> None:
        self.add_lines(agent, stream, (line,))

    def add_lines(self, agent: str, stream: str, lines: Sequence[str]) -> None:
        """Lines of one agent's stream, in order, under one lock.

        The lines are kept as they came, a chunk at a time, and made into entries only
        when someone asks for them (`tail`) or follows this agent: most lines of a fast
        agent are pushed out again before anyone looks.
        """
        if not lines:
            return
        with self._lock:
            first = self._seq + 1
            self._seq += len(lines)
            for follower in self._followers:
                if follower.wants(agent):
                    follower._offer(agent, stream, lines, first)
            if len(lines) > self._keep:
                first += len(lines) - self._keep
                lines = lines[-self._keep:]
            kept = self._kept.get(agent)
            if kept is None:
                kept = self._kept[agent] = _Kept()
            kept.chunks.append(_Chunk(first, stream, lines))
            kept.count += len(lines)
            while kept.count - len(kept.chunks[0].lines) >= self._keep:
                kept.count -= len(kept.chunks.popleft().lines)

    def tail(self, agents: Iterable[str], count: int) -> list[Line]:
        """The last `count` lines of each agent, merged in the order they arrived."""
        with self._lock:
            return self._tail(agents, count)

    def tail_and_follow(self, agents: Iterable[str], count: int, *, every: bool = False
                        ) -> tuple[list[Line], Follower]:
        """The tail of `agents` and a follower that starts right after it, with no line
        lost between; with `every`, the follower also gets agents added later."""
        wanted = list(dict.fromkeys(agents))
        with self._lock:
            follower = Follower(self, None if every else frozenset(wanted))
            self._followers.append(follower)
            return self._tail(wanted, count), follower

    def _tail(self, agents: Iterable[str], count: int) -> list[Line]:
        picked: list[Line] = []
        for agent in dict.fromkeys(agents):  # an agent named twice gives its lines once
            kept = self._kept.get(agent)
            need = min(count, self._keep)
            if kept is None or need <= 0:
                continue
            for chunk in reversed(kept.chunks):
                lines = chunk.lines[-need:]
                start = chunk.first + len(chunk.lines) - len(lines)
                picked.extend(Line(agent, chunk.stream, line, seq)
                              for seq, line in enumerate(lines, start))
                need -= len(lines)
                if need <= 0:
                    break
        return sorted(picked, key=lambda entry: entry.seq)

    def end_followers(self, timeout: float) -> bool:
        """Wake every follower to see the job's end, and wait until each has written its
        last lines and closed, or `timeout` has passed: the supervisor must not exit
        while a `logs -f` reader is still being handed the job's last lines. False if
        one was still writing (to a reader that does not read)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            self.ended = True
            for follower in self._followers:
                follower._waiting.notify_all()
            while self._followers:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._gone.wait(left)
        return True

    def _drop(self, follower: Follower) -> None:
        with self._lock:
            if follower in self._followers:
                self._followers.remove(follower)
                self._gone.notify_all()


class TappedRunner(Runner):
    """A runner that copies each output line into the ring before passing it on; a
    read's lines go through in one call."""

    def __init__(self, inner: Runner, ring: LogRing, agent_id: str) -> None:
        self.inner = inner
        self.ring = ring
        self.agent_id = agent_id

    def start(
        self, spec: LaunchSpec, on_output: OutputCallback, on_exit: ExitCallback
    ) -> StartInfo:
        return self.inner.start(spec, self._tap(on_output), on_exit)

    def start_soon(
        self, spec: LaunchSpec | Callable[[], LaunchSpec], on_output: OutputCallback,
        on_exit: ExitCallback,
    ) -> Future[StartInfo]:
        return self.inner.start_soon(spec, self._tap(on_output), on_exit)

    def _tap(self, on_output: OutputCallback) -> BatchOutput:
        ring, agent_id = self.ring, self.agent_id

        def tapped(stream: Stream, batch: LineBatch) -> None:
            # A piece of a long line counts as one line.
            ring.add_lines(agent_id, stream, batch.texts)
            deliver(on_output, stream, batch)

        return BatchOutput(tapped, flow_of(on_output))

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
