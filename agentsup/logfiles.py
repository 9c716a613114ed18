"""Agents' output in files, rotated by size: `deployment.logs`.

The event stream is for pipelines and the terminal; a file per agent is what someone
reads after the job has gone (`less`, `grep`, `tail -f`). Each agent writes
`DIR/<job>/<agent>.log`; when the next line would take it past `max_size`, the file
becomes `<agent>.log.1`, older ones move up by one and those past `keep` are deleted,
as logrotate does. A rotation renames only the numbered files that exist (found once when
the file is opened, then followed), so its cost never depends on how large `keep` is.

Lines are handed in on the runners' I/O threads, so a write must not wait on anything
but the disk; a file that cannot be written any more is reported once and then left
alone, and supervising goes on. A read's worth of lines shares one time stamp and is
written with one call unless it reaches the rotation size, where it goes line by line.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from agentsup.job.models import JobDefinition
from agentsup.runners.lines import LineBatch
from agentsup.settings import log_files

logger = logging.getLogger(__name__)


class RotatingFile:
    """One append-only file that rotates before it would grow past `max_size` bytes."""

    def __init__(self, path: Path, max_size: int, keep: int) -> None:
        self.path = path
        self.max_size = max_size
        self.keep = keep
        self._lock = threading.Lock()
        self._broken = False
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file: BinaryIO | None = path.open("ab")
        self._size = self._file.tell()
        self._rotated = rotated_numbers(path)

    def write(self, text: str) -> None:
        """Append `text`; a rotation happens only between its lines."""
        data = text.encode("utf-8", errors="replace")
        with self._lock:
            if self._broken or self._file is None:
                return
            try:
                if self._size + len(data) <= self.max_size:
                    self._file.write(data)
                    self._size += len(data)
                else:
                    for line in _lines_of(data):
                        if self._size > 0 and self._size + len(line) > self.max_size:
                            self._rotate()
                        self._file.write(line)
                        self._size += len(line)
                self._file.flush()
            except OSError as exc:
                self._broken = True
                logger.warning("log file %s cannot be written any more: %s", self.path, exc)

    @property
    def rotated(self) -> tuple[int, ...]:
        """The numbers of the rotated files this file knows to exist, oldest (highest) first."""
        with self._lock:
            return tuple(self._rotated)

    def _rotate(self) -> None:
        """The current file becomes number 1, after the older ones have made room."""
        assert self._file is not None
        self._file.close()
        self._file = None
        self._rotated = self._shift_rotated()
        if self.keep > 0:
            os.replace(self.path, self._numbered(1))
            self._rotated.append(1)
        else:
            self.path.unlink(missing_ok=True)
        self._file = self.path.open("ab")
        self._size = 0

    def _shift_rotated(self) -> list[int]:
        """Each rotated file one number up, oldest first; those that would pass `keep` go.

        Only the files known to exist are touched, so a `keep` of a million costs what a
        `keep` of five does. Files left past `keep` by a run with a larger one go too. One
        deleted meanwhile by someone else is skipped rather than ending the log.
        """
        shifted: list[int] = []
        for number in self._rotated:
            older = self._numbered(number)
            if number >= self.keep:
                older.unlink(missing_ok=True)
                continue
            try:
                os.replace(older, self._numbered(number + 1))
            except FileNotFoundError:
                continue
            shifted.append(number + 1)
        return shifted

    def _numbered(self, number: int) -> Path:
        return self.path.with_name(f"{self.path.name}.{number}")

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None


def rotated_numbers(path: Path) -> list[int]:
    """The N of every `<path>.N` beside `path`, highest (oldest) first.

    Read from the directory rather than probed number by number, so that the cost is
    that of the directory, not of `keep`. Only the names a rotation makes count: `N` in
    plain decimal digits without a leading zero, so `a.log.01` or `a.log.1.gz` are left
    alone.
    """
    prefix = path.name + "."
    numbers: list[int] = []
    with os.scandir(path.parent) as entries:
        for entry in entries:
            suffix = entry.name.removeprefix(prefix)
            if suffix != entry.name and _is_rotation_number(suffix):
                numbers.append(int(suffix))
    return sorted(numbers, reverse=True)


def _is_rotation_number(text: str) -> bool:
    """Whether `text` is a number `_numbered` could have written: 1, 2, ... in ASCII.

    Past 18 digits a name is no rotation's (no `keep` comes near), so it is left alone.
    """
    return (
        len(text) <= 18 and text.isascii() and text.isdigit() and not text.startswith("0")
    )


def _lines_of(data: bytes) -> list[bytes]:
    """`data` cut after each newline (a last line without one stays as it is)."""
    *whole, last = data.split(b"\n")
    lines = [line + b"\n" for line in whole]
    if last:
        lines.append(last)
    return lines


def _stamp() -> str:
    now = datetime.now(UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


class LogFiles:
    """An output sink for `EventLog`: each line of an agent into that agent's file.

    A line reads `<UTC time to the millisecond> <stream> <text>`. A line longer than
    64 KiB arrives in pieces; each is a file line of its own, and each but the last has
    `+` after the stream (`stdout+`), so that a reader can join them. Joining them in the
    file instead would mean holding pieces back while the agent's other stream writes,
    for a line of any length.
    """

    def __init__(self, files: Mapping[str, RotatingFile]) -> None:
        self.files = dict(files)

    def __call__(self, agent: str, stream: str, batch: LineBatch) -> None:
        """A read's lines of one agent's stream, with one time stamp and one write."""
        file = self.files.get(agent)
        if file is None or not batch.texts:
            return
        stamp = _stamp()
        head = f"{stamp} {stream} "
        if not batch.pieces:
            file.write(head + f"\n{head}".join(batch.texts) + "\n")
            return
        more = f"{stamp} {stream}+ "
        file.write("".join(
            (more if line.continued else head) + line.text + "\n" for line in batch
        ))

    def close(self) -> None:
        for file in self.files.values():
            file.close()


def log_file_path(directory: Path, job: str, agent: str) -> Path:
    return directory / job / f"{agent}.log"


def open_log_files(job: JobDefinition, base_dir: Path) -> LogFiles | None:
    """The files of every agent that has `deployment.logs`; None when none has.

    Raises OSError when a directory cannot be made or a file not opened, before
    anything has started.
    """
    files: dict[str, RotatingFile] = {}
    try:
        for agent in job.agents:
            settings = log_files(job, agent)
            if settings is None:
                continue
            directory = Path(settings.dir).expanduser()
            if not directory.is_absolute():
                directory = base_dir / directory
            path = log_file_path(directory, job.job.name, agent.id)
            files[agent.id] = RotatingFile(path, settings.max_size, settings.keep)
    except OSError:
        for file in files.values():
            file.close()
        raise
    return LogFiles(files) if files else None
