"""LineWriter over a real pipe that nobody reads for a while."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from agentsup.linewriter import LineWriter


@pytest.fixture()
def pipe() -> Iterator[tuple[int, int]]:
    read_end, write_end = os.pipe()
    yield read_end, write_end
    for fd in (read_end, write_end):
        with contextlib.suppress(OSError):
            os.close(fd)


def read_all(fd: int) -> list[str]:
    chunks = []
    while True:
        data = os.read(fd, 1 << 16)
        if not data:
            return b"".join(chunks).decode().splitlines()
        chunks.append(data)


def test_output_beyond_the_backlog_is_counted_and_lifecycle_lines_all_arrive(
    pipe: tuple[int, int],
) -> None:
    read_end, write_end = pipe
    stream = os.fdopen(write_end, "w", closefd=False)
    writer = LineWriter(stream, dropped_line=lambda n: f"dropped {n}", backlog_bytes=1000)
    # The pipe takes about 64 KiB; everything after that waits in the queue.
    for i in range(5000):
        writer.output(f"out {i:04}")
        if i % 1000 == 0:
            writer.msg(f"life {i}")
    writer.msg("last")
    writer.seal()
    writer.msg("after the last")
    writer.output("output after the last")

    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(read_all(read_end)))
    reader.start()
    assert writer.close(timeout=30)
    os.close(write_end)
    reader.join(30)

    assert lines[-1] == "last"
    assert [line for line in lines if line.startswith("life")] == [
        f"life {i}" for i in range(0, 5000, 1000)
    ]
    written = [line for line in lines if line.startswith("out")]
    dropped = sum(int(line.split()[1]) for line in lines if line.startswith("dropped"))
    assert dropped > 0
    assert len(written) + dropped == 5000
    assert written == sorted(written)  # order is kept; only gaps where lines were dropped
    assert "after the last" not in lines and "output after the last" not in lines


def test_a_reader_that_went_away_does_not_stop_the_writer(pipe: tuple[int, int]) -> None:
    read_end, write_end = pipe
    os.close(read_end)
    stream = os.fdopen(write_end, "w", closefd=False)
    writer = LineWriter(stream)
    for i in range(100_000):
        writer.msg(f"line {i}")
    assert writer.close(timeout=30)  # broken pipe: discarded, not waited for


def wait_until(condition: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def test_a_paced_thread_is_told_to_stop_loses_nothing_and_is_woken_once_drained(
    pipe: tuple[int, int],
) -> None:
    read_end, write_end = pipe
    stream = os.fdopen(write_end, "w", closefd=False)
    # A stall limit far beyond anything this test waits, so that a machine that pauses
    # the test cannot make the writer look stopped: what is checked is the pacing alone.
    writer = LineWriter(stream, dropped_line=lambda n: f"dropped {n}", backlog_bytes=100_000,
                        stall_seconds=600)
    writer.pace_this_thread()
    # Nobody reads yet: the pipe fills, then the backlog, until the writer says stop.
    n = 0
    while writer.paused() is None:
        writer.output(f"out {n:06}")
        n += 1
    # The writer took its work up just now, so it counts as writing: a paced thread's
    # output beyond the limit (what it read before it could stop) is kept.
    writer.output_lines([f"out {i:06}\n".encode() for i in range(n, n + 500)], 500)
    woken = threading.Event()
    writer.on_drained(woken.set)
    assert not woken.is_set()

    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(read_all(read_end)))
    reader.start()
    assert woken.wait(30)
    assert writer.paused() is None
    assert writer.close(timeout=30)
    os.close(write_end)
    reader.join(30)
    assert lines == [f"out {i:06}" for i in range(n + 500)]


def test_a_writer_that_wrote_nothing_for_a_while_lets_a_paced_thread_read_on_and_drop(
    pipe: tuple[int, int],
) -> None:
    read_end, write_end = pipe
    stream = os.fdopen(write_end, "w", closefd=False)
    writer = LineWriter(stream, dropped_line=lambda n: f"dropped {n}", backlog_bytes=100_000)
    writer.pace_this_thread()
    n = 0
    while writer.paused() is None:
        writer.output(f"out {n:06}")
        n += 1
    wait_until(lambda: writer.paused() is None)  # nobody reads: the writer is stuck
    # Far more than the backlog; the writer may still free a little room by taking
    # its next chunk, so a few of these may fit.
    late = [f"late {i:03} {'x' * 2000}" for i in range(300)]
    writer.output_lines([f"{line}\n".encode() for line in late], 300)
    writer.msg("last")

    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(read_all(read_end)))
    reader.start()
    assert writer.close(timeout=30)
    os.close(write_end)
    reader.join(30)
    assert lines[:n] == [f"out {i:06}" for i in range(n)]
    kept = lines[n:-2]
    assert kept == late[: len(kept)] and len(kept) < 50
    assert lines[-2:] == [f"dropped {300 - len(kept)}", "last"]
