"""The one writer of stdout: whole lines, in order, and never blocking the callers.

`EventLog` renders events; this module gets them to the stream. See `LineWriter` for
what happens while nobody reads stdout.
"""

from __future__ import annotations

import contextlib
import io
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TextIO

# Set by EventLog's processor chain for `job.stopped`, read by `LineWriter.msg` on the
# same thread in the same call, so sealing happens together with queueing that line.
last_event = threading.local()


OUTPUT_BACKLOG_BYTES = 4 * 1024 * 1024
"""Agent output waiting for stdout beyond this holds local agents back while stdout is
still being read, and is dropped (and counted) once it is not."""

RESUME_BACKLOG_FRACTION = 0.5
"""Local agents are read again once the backlog is below this share of the limit."""

STALL_SECONDS = 1.0
"""A writer over the limit that wrote nothing for this long counts as stopped: agents
are no longer held back and their output beyond the limit is dropped. A reader slower
than one write chunk a second (`WRITE_CHUNK_BYTES`) counts as stopped too."""

WRITE_CHUNK_BYTES = 256 * 1024
"""The writer thread takes up to this much of the queue into one write."""

WRITE_CHUNK_PIECES = 256
"""... and at most this many queued pieces (one `writev`, well below IOV_MAX)."""

EXIT_WRITE_WAIT = 10.0
"""At exit, how long agentsup waits for stdout to take the events still queued."""


class LineWriter:
    """A structlog logger that writes whole lines to one stream, and never blocks callers.

    On a stream with a file descriptor (stdout) a writer thread does the writing, so a
    reader that stops reading (a paused pager, a stuck log shipper) stalls that thread
    only: actors keep working and signals keep stopping the job. Agent output
    (`output`) is queued up to `OUTPUT_BACKLOG_BYTES` and dropped beyond that; the
    number dropped is reported by an `events.dropped` line in the stream, written before
    the next line that is queued. Every other event (`msg`) is always queued: lifecycle
    events are never dropped. After `seal` nothing more is accepted, so nothing follows
    `job.stopped`. Streams without a descriptor (tests' StringIO) are written at once.

    It is also the `OutputFlow` of what it writes: a reader of agents' pipes that paces
    its thread (the local hub) is told to stop reading while the backlog is over the
    limit and the writer still writes, and to go on once the backlog is below
    `RESUME_BACKLOG_FRACTION` of it; meanwhile its output is not dropped, so a slow
    reader of stdout loses nothing. Once the writer has written nothing for
    `STALL_SECONDS` the reader is told to read on, and output is dropped as above, so a
    reader that stopped never holds agents back for longer than that.
    """

    def __init__(
        self,
        stream: TextIO,
        *,
        dropped_line: Callable[[int], str | bytes] | None = None,
        backlog_bytes: int = OUTPUT_BACKLOG_BYTES,
        stall_seconds: float = STALL_SECONDS,
    ) -> None:
        self._stream = stream
        self._dropped_line = dropped_line
        self._backlog_limit = backlog_bytes
        self._stall = stall_seconds
        self._cond = threading.Condition()
        self._queue: deque[bytes] = deque()
        self._output_bytes: deque[int] = deque()  # per queued line; 0 for lifecycle lines
        self._backlog = 0
        self._dropped = 0
        self._sealed = False
        self._broken = False
        self._busy = False
        self._holding = False  # over the limit, not yet back below the low mark
        self._resume_below = int(backlog_bytes * RESUME_BACKLOG_FRACTION)
        self._wakes: set[Callable[[], None]] = set()
        self._paced = threading.local()
        # The last time the writer wrote something, or took work up after being idle.
        self._progress_at = time.monotonic()
        self._fd = _descriptor(stream)
        if self._fd is not None:
            with contextlib.suppress(OSError, ValueError):
                stream.flush()  # anything printed before goes first
            threading.Thread(target=self._write_loop, name="agentsup-stdout",
                             daemon=True).start()

    def msg(self, message: str) -> None:
        last = getattr(last_event, "seal", False)
        last_event.seal = False
        self._put(message, last=last)

    debug = info = warning = warn = error = critical = exception = fatal = log = msg

    def output(self, message: str | bytes) -> None:
        """A line of agent output: may be dropped while stdout is not being read."""
        self.output_lines([_line_bytes(message)], 1)

    def output_lines(self, parts: list[bytes], count: int) -> None:
        """`count` lines of agent output, each ending in a newline, as the pieces of
        one blob (cut anywhere: the writer writes them back to back).

        Queued under one lock. Beyond the backlog, as many leading lines as it still
        holds are queued and the rest are dropped and counted, as if they had come one
        by one; but not from a paced thread while the writer still writes, since that
        thread stops reading (`paused`).
        """
        size = sum(map(len, parts))
        with self._cond:
            if self._sealed:
                return
            if self._fd is None:
                self._write_now(b"".join(parts))
                return
            if self._broken:
                return
            room = max(self._backlog_limit - self._backlog, 0)  # below 0 after pacing
            dropped = 0
            if size >= room:
                self._holding = True
            if size > room and not (getattr(self._paced, "on", False) and self._moving()):
                data = b"".join(parts)
                size = data.rfind(b"\n", 0, room) + 1
                dropped = count - data.count(b"\n", 0, size)
                parts = [data[:size]]
            if size:
                idle = not self._queue
                if idle and not self._busy:
                    self._progress_at = time.monotonic()
                self._queue_notice()
                self._queue.extend(parts)
                self._output_bytes.extend(map(len, parts))
                self._backlog += size
                if idle:
                    self._cond.notify_all()
            self._dropped += dropped

    def pace_this_thread(self) -> None:
        """`OutputFlow`: the calling thread stops reading agents when `paused` says so."""
        self._paced.on = True

    def paused(self) -> float | None:
        """`OutputFlow`: None to read on; else the seconds until the writer would count
        as stopped, unless it writes meanwhile. Lock-free: called after every read."""
        if not self._holding or self._sealed or self._broken:
            return None
        wait = self._stall_left()
        return wait if wait > 0 else None

    def on_drained(self, wake: Callable[[], None]) -> None:
        """`OutputFlow`: `wake` is called once the backlog is below the low mark."""
        with self._cond:
            if self._holding and not self._broken:
                self._wakes.add(wake)
                return
        wake()

    def _moving(self) -> bool:
        """The writer wrote (or took work up) within `STALL_SECONDS`."""
        return self._stall_left() > 0

    def _stall_left(self) -> float:
        """Seconds until the writer counts as stopped, unless it makes progress."""
        return self._stall - (time.monotonic() - self._progress_at)

    def _drained(self) -> list[Callable[[], None]]:
        """The wakes due now that the backlog is below the low mark (under the lock)."""
        if not self._holding or (self._backlog >= self._resume_below and not self._broken):
            return []
        self._holding = False
        wakes = list(self._wakes)
        self._wakes.clear()
        return wakes

    def seal(self) -> None:
        """Accept nothing more: the last event has been written."""
        with self._cond:
            self._sealed = True

    def close(self, timeout: float = EXIT_WRITE_WAIT) -> bool:
        """Wait up to `timeout` for the queue to reach stdout; False if it did not."""
        if self._fd is None:
            return True
        with self._cond:
            return self._cond.wait_for(
                lambda: self._broken or not (self._queue or self._busy), timeout
            )

    def _put(self, message: str | bytes, *, last: bool) -> None:
        """A lifecycle line: always queued (unless sealed or stdout is gone)."""
        data = _line_bytes(message)
        with self._cond:
            if self._sealed:
                return
            if self._fd is None:
                self._write_now(data)
                self._sealed = last
                return
            if self._broken:
                self._sealed = last
                return
            idle = not self._queue
            if idle and not self._busy:
                self._progress_at = time.monotonic()
            self._queue_notice()
            self._queue.append(data)
            self._output_bytes.append(0)
            self._sealed = last
            if idle:
                # The writer sleeps only on an empty queue; waking it for every line
                # of a fast agent cost more than writing the line.
                self._cond.notify_all()

    def _queue_notice(self) -> None:
        """The `events.dropped` line for what was dropped since the last one, ahead of
        the next line queued (under the condition's lock)."""
        if self._dropped and self._dropped_line is not None:
            self._queue.append(_line_bytes(self._dropped_line(self._dropped)))
            self._output_bytes.append(0)
            self._dropped = 0

    def _write_now(self, data: bytes) -> None:
        try:
            self._stream.write(data.decode("utf-8"))
            self._stream.flush()
        except (BrokenPipeError, ValueError):
            pass  # the reader went away; supervising goes on

    def _write_loop(self) -> None:
        assert self._fd is not None
        while True:
            with self._cond:
                self._busy = False
                self._cond.notify_all()
                self._cond.wait_for(lambda: bool(self._queue))
                chunk: list[bytes] = []
                size = 0
                while self._queue and size < WRITE_CHUNK_BYTES and len(chunk) < WRITE_CHUNK_PIECES:
                    data = self._queue.popleft()
                    chunk.append(data)
                    size += len(data)
                    self._backlog -= self._output_bytes.popleft()
                self._busy = True
                wakes = self._drained()
            for wake in wakes:  # readers go on while this chunk is written
                wake()
            if not self._write_all(chunk):
                with self._cond:
                    # The reader went away; supervising goes on, writing nothing.
                    self._broken = True
                    self._queue.clear()
                    self._output_bytes.clear()
                    self._backlog = 0
                    self._busy = False
                    wakes = self._drained()
                    self._cond.notify_all()
                for wake in wakes:
                    wake()
                return

    def _write_all(self, chunks: list[bytes]) -> bool:
        """Write `chunks` back to back with `writev`, however little each call takes;
        each call that takes something counts as progress (`paused`)."""
        assert self._fd is not None
        buffers: list[bytes | memoryview] = list(chunks)
        while buffers:
            try:
                written = os.writev(self._fd, buffers)
            except InterruptedError:
                continue
            except OSError:
                return False
            self._progress_at = time.monotonic()
            while buffers and written >= len(buffers[0]):
                written -= len(buffers.pop(0))
            if written:
                buffers[0] = memoryview(buffers[0])[written:]
        return True


def _line_bytes(message: str | bytes) -> bytes:
    if isinstance(message, bytes):
        return message + b"\n"
    return (message + "\n").encode("utf-8", errors="replace")


def _descriptor(stream: TextIO) -> int | None:
    try:
        return stream.fileno()
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
        return None

