"""The control directory and the one-supervisor-per-job lock.

The directory holds one socket per running job. Anyone who can enter it can ask a job
to stop or restart agents, so it must belong to the user and be closed to everyone
else (mode 0700); a directory that is not is refused rather than repaired, because an
existing one with the wrong owner may have been planted by someone else.

A job's lock is an `flock` on `<name>.lock`. The kernel releases it when its holder dies,
even by SIGKILL, so a socket left behind by a dead supervisor is recognised as stale
(the lock can be taken) and replaced.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import stat
import tempfile
from contextlib import suppress
from pathlib import Path

import msgspec

_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


class ControlError(Exception):
    """A one-line reason a control operation cannot go on."""


class AlreadyRunning(ControlError):
    pass


class BadJobArgument(ControlError):
    """The command line names no job: neither a job file (nor one a running job was
    started from) nor a possible job name, or a file several running jobs started from."""


def control_dir() -> Path:
    """Where job sockets live, created 0700 when missing and checked when present."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        directory = Path(runtime) / "agentsup"
    else:
        directory = Path(tempfile.gettempdir()) / f"agentsup-{os.geteuid()}"
    with suppress(FileExistsError):
        directory.mkdir(mode=0o700, parents=False)
    check_private(directory)
    return directory


def check_private(directory: Path) -> None:
    try:
        info = directory.lstat()
    except OSError as exc:
        raise ControlError(f"{directory}: cannot use it as the control directory: "
                           f"{exc.strerror}") from None
    if not stat.S_ISDIR(info.st_mode):
        raise ControlError(f"{directory}: the control directory is not a directory")
    if info.st_uid != os.geteuid():
        raise ControlError(
            f"{directory}: the control directory belongs to uid {info.st_uid}, not to you "
            f"(uid {os.geteuid()}); refusing to use it"
        )
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        raise ControlError(
            f"{directory}: the control directory has mode {mode:04o}; it must be 0700 "
            "(only you may enter it); refusing to use it"
        )


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise BadJobArgument(f"{name!r} is neither a job file nor a job name")
    return name


class JobPaths(msgspec.Struct, frozen=True):
    name: str
    socket: Path
    lock: Path


def job_paths(name: str, directory: Path | None = None) -> JobPaths:
    base = directory if directory is not None else control_dir()
    check_name(name)
    return JobPaths(name, base / f"{name}.sock", base / f"{name}.lock")


class JobLock:
    """Held for as long as the supervisor of one job runs; see the module docstring."""

    def __init__(self, paths: JobPaths, fd: int) -> None:
        self.paths = paths
        self._fd = fd

    @classmethod
    def acquire(cls, paths: JobPaths, *, job_file: str) -> JobLock:
        fd = os.open(paths.lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = read_holder(paths)
            os.close(fd)
            pid = f"supervisor pid {holder['pid']}, " if "pid" in holder else ""
            raise AlreadyRunning(
                f"job {paths.name!r} is already running ({pid}control socket {paths.socket}); "
                f"stop it first with `agentsup stop {paths.name}`"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps({"pid": os.getpid(), "file": job_file}).encode())
        return cls(paths, fd)

    def release(self) -> None:
        """Unlock, leaving the file: unlinking a lock file lets two holders race."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def read_holder(paths: JobPaths) -> dict[str, object]:
    try:
        value = json.loads(paths.lock.read_text() or "{}")
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}
