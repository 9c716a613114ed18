"""Whether a job's supervisor runs now, told by its lock, for commands that must not
act under a live one (`agentsup down`), and which running jobs were started from a file
(for control commands given the file after it was deleted or its `job.name` edited).

The lock is the one `start` holds for its whole life (`rundir.JobLock`). Asking for a
shared lock without waiting answers the question without a socket round-trip, and
stays right after a SIGKILL: the kernel drops a dead holder's lock, so a stale lock
file reads as "not running". The shared lock is let go at once; a `start` that tries
for its exclusive lock in that instant is refused as if the job ran, and may retry.
"""

from __future__ import annotations

import fcntl
import os
import sys
from pathlib import Path

from agentsup.control.rundir import (
    BadJobArgument,
    ControlError,
    JobPaths,
    control_dir,
    job_paths,
    read_holder,
)
from agentsup.exitcodes import EXIT_FAILED


def supervisor_pid(name: str) -> int | None:
    """The pid of the running supervisor of job `name` (0 when it left none), or None
    when no supervisor holds the job's lock."""
    return _holder_pid(job_paths(name))


def started_from(job_file: Path) -> list[str]:
    """The names of the running jobs whose `start` was given `job_file`, sorted.

    `start` records the file it was given, resolved, in the job's lock file; a lock
    file outlives its supervisor, so only a lock still held counts. The file itself
    may be gone or say another `job.name` by now: this answers from the record alone.
    """
    try:
        wanted = str(job_file.resolve())
    except (OSError, RuntimeError):  # a symlink loop: it cannot be what `start` read
        return []
    directory = control_dir()
    names: list[str] = []
    for lock in sorted(directory.glob("*.lock")):
        try:
            paths = job_paths(lock.stem, directory)
        except BadJobArgument:
            continue  # not a lock `start` made: every job name passes that check
        if read_holder(paths).get("file") == wanted and _holder_pid(paths) is not None:
            names.append(paths.name)
    return names


def _holder_pid(paths: JobPaths) -> int | None:
    """`supervisor_pid` for the lock at `paths`."""
    try:
        fd = os.open(paths.lock, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        pid = read_holder(paths).get("pid")
        return pid if isinstance(pid, int) else 0
    finally:
        os.close(fd)  # closing it lets go of the shared lock, if we got it
    return None


def refuse_down_while_running(name: str) -> int | None:
    """`agentsup down` under a live supervisor would remove what it supervises: say so
    in one line and give the exit code, or None when the job is not running."""
    try:
        pid = supervisor_pid(name)
    except ControlError as exc:
        print(f"agentsup: cannot tell whether job {name!r} is running: {exc}",
              file=sys.stderr)
        return EXIT_FAILED
    if pid is None:
        return None
    who = f" (supervisor pid {pid})" if pid else ""
    print(f"agentsup: job {name!r} is running{who}; `agentsup down` only removes what a "
          f"stopped run left behind. Stop it with `agentsup stop {name}`, which removes "
          "what it created", file=sys.stderr)
    return EXIT_FAILED
