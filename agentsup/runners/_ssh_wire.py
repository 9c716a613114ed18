"""The wire protocol between the SSH backend and the remote watchdog.

The watchdog (`agentsup/programs/ssh_watchdog.py`) is sent as source and started with
`python3 -c`; it reads one JSON line (the launch and its settings) on stdin and answers
`P <pid>` or `F <reason>` as its first line. After that its stdout carries frames:
`O`/`E` for a whole stdout/stderr line, `o`/`e` for a leading piece of a long one, and
`X <code> <signal>` once the agent has exited. It accepts `TERM` and `KILL` on stdin.
`Session` is one launch's end of that conversation; `relay` runs on the asyncssh loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from pathlib import Path
from typing import Protocol

import asyncssh

from agentsup.runners._ssh_scripts import decode, tail
from agentsup.runners.base import ExitCallback, ExitStatus, OutputCallback, Stream, deliver
from agentsup.runners.lines import LineBatch

logger = logging.getLogger(__name__)

WATCHDOG_SOURCE = (
    Path(__file__).resolve().parents[1] / "programs" / "ssh_watchdog.py"
).read_text(encoding="utf-8")
ORPHAN_GRACE_MAX = 3.0
"""Seconds between SIGTERM and SIGKILL when the watchdog loses its session."""
FIRST_LINE_TIMEOUT = 30.0
"""How long the watchdog may take to report the pid (it may first end an old group)."""
READ_SIZE = 1 << 16
"""Bytes of frames taken from the session at a time: the output lines among them go on
in one call per run of one stream, as the local hub passes on a pipe read's."""


class Link(Protocol):
    """What the relay needs to know of the connection a session runs on."""

    @property
    def label(self) -> str: ...

    @property
    def lost_reason(self) -> str | None: ...

    @property
    def connected(self) -> bool: ...


async def watchdog_failed(
    link: Link, process: asyncssh.SSHClientProcess[bytes], python: str
) -> str:
    """Why the watchdog did not report a pid, as a sentence for the launch error."""
    stderr = b""
    with contextlib.suppress(Exception):
        stderr = await asyncio.wait_for(process.stderr.read(), 2.0)
        await asyncio.wait_for(process.wait_closed(), 2.0)
    process.close()
    status = process.exit_status
    if status == 127:
        return f"{python} was not found on {link.label} (set deployment.python)"
    if status is None and not link.connected:
        return f"connection to {link.label} lost: {link.lost_reason or 'closed'}"
    return (
        f"the remote watchdog on {link.label} failed (exit status {status}): "
        f"{tail(decode(stderr))}"
    )

async def relay(link: Link, session: Session, process: asyncssh.SSHClientProcess[bytes]) -> None:
    """Relay one agent's output and report its exit exactly once."""
    status: ExitStatus | None = None
    detail = ""
    stderr_task = asyncio.get_running_loop().create_task(_relay_stderr(session, process))
    try:
        pending = b""
        while True:
            chunk = await process.stdout.read(READ_SIZE)
            if not chunk:
                if pending:  # a last frame cut short: passed on as it came
                    status = session.frames([pending]) or status
                break
            data = pending + chunk if pending else chunk
            end = data.rfind(b"\n")
            if end < 0:
                pending = data
                continue
            pending = data[end + 1:]
            status = session.frames(data[:end].split(b"\n")) or status
    except (asyncssh.Error, OSError, asyncio.IncompleteReadError) as exc:
        detail = str(exc)
    if status is None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(process.wait_closed(), 2.0)
        if process.exit_status is None and process.exit_signal is None:
            reason = link.lost_reason or detail or "the SSH session closed"
            status = ExitStatus(None, None, reason=f"connection to {link.label} lost: {reason}")
        else:
            status = ExitStatus(
                None, None,
                reason=f"the remote watchdog on {link.label} ended without reporting "
                f"the agent's exit (exit status {process.returncode})",
            )
    with contextlib.suppress(Exception):
        await asyncio.wait_for(stderr_task, 1.0)
    process.close()
    session.report(status)

async def _relay_stderr(session: Session, process: asyncssh.SSHClientProcess[bytes]) -> None:
    """The watchdog's own stderr (a traceback, should it ever crash)."""
    with contextlib.suppress(asyncssh.Error, OSError, asyncio.IncompleteReadError):
        while True:
            line = await process.stderr.readline()
            if not line:
                return
            session.watchdog_line("[agentsup watchdog] " + decode(line.rstrip(b"\n")))


_STREAMS: dict[bytes, Stream] = {b"O": "stdout", b"E": "stderr"}
"""The watchdog's output frames; the lower-case kind marks a leading piece of a line."""


def parse_exit(payload: bytes) -> ExitStatus:
    words = decode(payload).split()
    code = int(words[0]) if words and words[0] != "-" else None
    signum = int(words[1]) if len(words) > 1 and words[1] != "-" else None
    return ExitStatus(code, signum)


class Session:
    """One launch of one agent: its SSH process and the once-only exit report."""

    def __init__(self, on_output: OutputCallback, on_exit: ExitCallback) -> None:
        self._on_output = on_output
        self._on_exit = on_exit
        self.process: asyncssh.SSHClientProcess[bytes] | None = None
        self.finished = threading.Event()
        self._reported = False
        self._parts: dict[Stream, int] = {"stdout": 0, "stderr": 0}

    def watchdog_line(self, line: str) -> None:
        """A line of the watchdog's own stderr: never a piece, and it must not end a
        piece sequence of the agent's stderr."""
        try:
            self._on_output("stderr", line, None, False)
        except Exception:  # a callback must never stop the relay
            logger.exception("output callback failed")

    def frames(self, frames: list[bytes]) -> ExitStatus | None:
        """Whole frames, in order (each without its newline): the output lines of each run
        of frames of one stream go on in one call; the exit status, if an `X` came."""
        status: ExitStatus | None = None
        batch = LineBatch()
        current: Stream = "stdout"
        for frame in frames:
            kind = frame[:1]
            stream = _STREAMS.get(kind.upper())
            if stream is None:
                if kind == b"X":
                    status = parse_exit(frame[2:])
                continue
            if stream != current and batch:
                self._deliver(current, batch)
                batch = LineBatch()
            current = stream
            continued = kind.islower()
            batch.add(decode(frame[2:]), self._part(stream, continued), continued)
        if batch:
            self._deliver(current, batch)
        return status

    def _part(self, stream: Stream, continued: bool) -> int | None:
        """The piece number of a frame of `stream`, None for a whole line."""
        if not (continued or self._parts[stream]):
            return None
        part = self._parts[stream] + 1
        self._parts[stream] = part if continued else 0
        return part

    def _deliver(self, stream: Stream, batch: LineBatch) -> None:
        try:
            deliver(self._on_output, stream, batch)
        except Exception:  # a callback must never stop the relay
            logger.exception("output callback failed")

    def report(self, status: ExitStatus) -> None:
        if self._reported:
            return
        self._reported = True
        try:
            self._on_exit(status)
        except Exception:
            logger.exception("exit callback failed")
        finally:
            self.finished.set()

    def send(self, word: bytes) -> None:
        """Tell the watchdog `TERM` or `KILL`; runs on the loop."""
        process = self.process
        if process is None or self.finished.is_set():
            return
        with contextlib.suppress(Exception):
            process.stdin.write(word + b"\n")
