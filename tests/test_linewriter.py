"""LineWriter over a real pipe that nobody reads for a while."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator

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
