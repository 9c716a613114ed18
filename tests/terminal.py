"""A real pseudo-terminal around a command, read through a VT100 emulator (pyte), so a
test sees the screen a person would see: what is left after cursor movement, redraws and
colour codes."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import signal
import struct
import sys
import termios
import time
from collections.abc import Callable
from contextlib import suppress

import pyte


class Terminal:
    """`argv` running as the foreground job of its own terminal, COLUMNS x LINES."""

    def __init__(self, argv: list[str], columns: int = 120, lines: int = 30,
                 env: dict[str, str] | None = None) -> None:
        self.screen = pyte.Screen(columns, lines)
        self.stream = pyte.ByteStream(self.screen)
        self.raw = b""
        environment = {**os.environ, "TERM": "xterm-256color", "COLUMNS": str(columns),
                       "LINES": str(lines), **(env or {})}
        environment.pop("NO_COLOR", None)
        pid, fd = pty.fork()
        if pid == 0:  # the child: a session leader with the terminal as its own
            try:
                os.execve(sys.executable, [sys.executable, *argv], environment)
            finally:
                os._exit(127)
        self.pid = pid
        self.fd = fd
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", lines, columns, 0, 0))
        self.exit_code: int | None = None

    def text(self) -> str:
        return "\n".join(line.rstrip() for line in self.screen.display)

    def pump(self, seconds: float) -> bool:
        """Feed what the program writes to the screen for up to `seconds`; False once
        the program has closed the terminal."""
        deadline = time.monotonic() + seconds
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return True
            ready, _, _ = select.select([self.fd], [], [], min(remaining, 0.1))
            if not ready:
                continue
            try:
                data = os.read(self.fd, 65536)
            except OSError:  # EIO: every writer of the terminal is gone
                return False
            if not data:
                return False
            self.raw += data
            self.stream.feed(data)

    def wait_for(self, seen: Callable[[str], bool], timeout: float = 30.0) -> str:
        """Read until the screen satisfies `seen`; fail with the screen otherwise."""
        deadline = time.monotonic() + timeout
        while True:
            screen = self.text()
            if seen(screen):
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"the screen never showed it; it shows:\n{screen}")
            if not self.pump(0.2) and not seen(self.text()):
                raise AssertionError(f"the program ended; the screen shows:\n{self.text()}")

    def resize(self, columns: int, lines: int) -> None:
        """What dragging the window's edge does: the kernel takes the new size and sends
        the terminal's foreground job SIGWINCH. The emulator truncates, as xterm does,
        rather than rewrap (as some terminals do)."""
        self.screen.resize(lines, columns)
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", lines, columns, 0, 0))

    def type(self, keys: bytes) -> None:
        """What a person types: Ctrl-C is b"\\x03", which the terminal turns into SIGINT."""
        os.write(self.fd, keys)

    def wait(self, timeout: float = 30.0) -> int:
        """Drain the output and reap the program; its exit code."""
        deadline = time.monotonic() + timeout
        while self.pump(0.2) and time.monotonic() < deadline:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.exit_code = os.waitstatus_to_exitcode(status)
                self.pump(0.2)
                return self.exit_code
        _, status = os.waitpid(self.pid, 0)
        self.exit_code = os.waitstatus_to_exitcode(status)
        return self.exit_code

    def close(self) -> None:
        if self.exit_code is None:
            with suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGKILL)
            with suppress(ChildProcessError):
                os.waitpid(self.pid, 0)
        with suppress(OSError):
            os.close(self.fd)
