"""The terminal's echo of what a person types, off while the live view draws.

The terminal writes every key typed where its cursor is: at the end of the live view's
table. Letters run past the table's last column, and Enter moves the cursor down a
line, so the next redraw starts a line too low and leaves a copy of the line over the
table, and of the table's top rows, behind on the screen for good. Pressing Enter to
make room is a habit many people have on a terminal where a server runs. So while the
view draws, the terminal does not echo (`ECHO` and `ECHONL` off); everything else stays
as it was: Ctrl-C, Ctrl-Z and Ctrl-\\ still signal, and what is typed still reaches
whoever reads the terminal next (the shell, as typed-ahead input, which it shows then).

Only the two flags agentsup cleared are set again, and only if it cleared them: a
terminal whose echo was already off (`stty -echo`) stays so. Only agentsup's own
terminal, while agentsup is its foreground job, is changed: a view written to another
terminal draws there and leaves that terminal's echo to whoever types on it. The shell's own job
control puts its modes back when agentsup is stopped or killed by a signal; for a stop
by Ctrl-Z the view gives the echo back itself before it stops (`LiveView._suspend`),
so the shell's prompt echoes whatever the shell is.

A process that changes the terminal's modes while not in the foreground is stopped by
the kernel (SIGTTOU). The view changes them only while it is in the foreground, and
blocks SIGTTOU in the calling thread for the call, so that losing the foreground in the
instant between the look and the change cannot stop agentsup.
"""

from __future__ import annotations

import contextlib
import os
import signal
import termios
from typing import Any

_ECHO_FLAGS = termios.ECHO | termios.ECHONL
_LFLAG = 3
"""The index of the local modes in what `termios.tcgetattr` returns."""


class TypedEcho:
    """Switches one terminal's echo off and back; one caller at a time (the view holds
    its print lock, or is the only thread left)."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._cleared = 0
        """The echo flags this cleared and has not set again."""

    def silence(self) -> None:
        """Echo off. Asked again after the shell put its modes back (a SIGSTOP, then
        `fg`), it clears them again."""
        if not self._foreground():
            return
        modes = self._modes()
        if modes is None or not modes[_LFLAG] & _ECHO_FLAGS:
            return
        cleared = modes[_LFLAG] & _ECHO_FLAGS
        modes[_LFLAG] &= ~_ECHO_FLAGS
        if self._set(modes):
            self._cleared |= cleared

    def restore(self) -> None:
        """Echo as it was before `silence`; nothing if `silence` changed nothing."""
        if not self._cleared:
            return
        modes = self._modes()
        if modes is None:
            return
        modes[_LFLAG] |= self._cleared
        if self._set(modes):
            self._cleared = 0

    def _foreground(self) -> bool:
        """Whether this is agentsup's own terminal and agentsup its foreground job: a
        live view written to another terminal (`> /dev/pts/7`) leaves that one's echo
        alone, as it is someone else's."""
        try:
            return os.tcgetpgrp(self._fd) == os.getpgrp()
        except OSError:
            return False

    def _modes(self) -> list[Any] | None:
        try:
            return termios.tcgetattr(self._fd)
        except (termios.error, OSError, ValueError):
            return None

    def _set(self, modes: list[Any]) -> bool:
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTTOU})
        try:
            termios.tcsetattr(self._fd, termios.TCSANOW, modes)
        except (termios.error, OSError, ValueError):
            return False
        finally:
            with contextlib.suppress(OSError, ValueError):
                signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        return True
