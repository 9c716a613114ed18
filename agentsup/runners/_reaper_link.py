"""The supervisor's end of the reaper: which process groups it must end if we die.

The reaper (`programs/reaper.py`) is a small process in a session of its own that reads `+PGID`
and `-PGID` lines on its stdin. When that pipe closes because the supervisor died, even by
SIGKILL, it ends every group still registered and every process that carries the hub's
mark in its environment (escaped descendants). This class owns the pipe; it is used from
the hub thread only, apart from `forget_in_child`, which runs right after a fork.
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import sys
from pathlib import Path

logger = logging.getLogger(__name__)

REAPER_EXIT_WAIT = 5.0
REAPER_PATH = Path(__file__).resolve().parents[1] / "programs" / "reaper.py"


class ReaperLink:
    def __init__(self, hub_id: str = "") -> None:
        self._hub_id = hub_id
        self._registered: set[int] = set()
        self._reaper: subprocess.Popen[bytes] | None = None
        self._reaper_fd = -1

    def ensure_running(self) -> bool:
        """Start the reaper before the first agent, so none is ever unwatched.

        False if it cannot run; the hub then gives each agent the kernel's parent-death
        signal instead.
        """
        return self._reaper is not None or self._start()

    def register(self, pgid: int) -> None:
        self._registered.add(pgid)
        self._send(f"+{pgid}\n".encode())

    def unregister(self, pgid: int) -> None:
        if pgid in self._registered:
            self._registered.discard(pgid)
            self._send(f"-{pgid}\n".encode())

    def forget_in_child(self) -> None:
        """In a forked copy of the supervisor, let go of the reaper's stdin.

        Otherwise the copy would keep the pipe open and the reaper would not notice
        the real supervisor's death. Runs right after fork: no locks.
        """
        if self._reaper_fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self._reaper_fd)
            self._reaper_fd = -1

    def close(self) -> None:
        """End the reaper by closing its stdin; with no group registered it kills none."""
        reaper = self._reaper
        self._reaper = None
        self._reaper_fd = -1
        if reaper is None:
            return
        if reaper.stdin is not None:
            with contextlib.suppress(OSError):
                reaper.stdin.close()
        try:
            reaper.wait(REAPER_EXIT_WAIT)
        except subprocess.TimeoutExpired:
            logger.warning("agent reaper %d did not exit", reaper.pid)

    def _send(self, line: bytes) -> None:
        for _attempt in range(2):
            if self._reaper is None and not self._start():
                return
            try:
                os.write(self._reaper_fd, line)
                return
            except OSError as exc:
                logger.warning("agent reaper is gone (%s); starting a new one", exc)
                self._drop()

    def _start(self) -> bool:
        if REAPER_PATH.is_file():
            argv = [sys.executable, "-I", "-S", str(REAPER_PATH)]
        else:
            argv = [sys.executable, "-m", "agentsup.programs.reaper"]
        if self._hub_id:
            argv.append(self._hub_id)
        try:
            reaper = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                cwd="/",
                close_fds=True,
                start_new_session=True,
                bufsize=0,
            )
        except OSError as exc:
            logger.error(
                "cannot start the agent reaper (%s): agents' children may outlive "
                "a killed supervisor",
                exc,
            )
            return False
        assert reaper.stdin is not None
        self._reaper = reaper
        self._reaper_fd = reaper.stdin.fileno()
        if self._registered:
            # A replacement reaper has to learn about every group that is still alive.
            backlog = "".join(f"+{pgid}\n" for pgid in self._registered).encode()
            try:
                os.write(self._reaper_fd, backlog)
            except OSError as exc:
                logger.error("the new agent reaper did not accept groups: %s", exc)
                self._drop()
                return False
        return True

    def _drop(self) -> None:
        """Discard a broken reaper without triggering it.

        Closing its stdin is its cue to kill every registered group, so it is killed
        first.
        """
        reaper = self._reaper
        self._reaper = None
        self._reaper_fd = -1
        if reaper is None:
            return
        reaper.kill()
        try:
            reaper.wait(REAPER_EXIT_WAIT)
        except subprocess.TimeoutExpired:
            logger.warning("agent reaper %d did not die", reaper.pid)
        if reaper.stdin is not None:
            with contextlib.suppress(OSError):
                reaper.stdin.close()
