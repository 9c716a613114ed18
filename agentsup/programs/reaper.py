"""Watchdog that ends local agents when the supervisor dies without cleaning up.

A SIGKILLed supervisor cannot clean up, and the kernel's parent-death signal would only
reach an agent's leader (and costs a full fork per spawn), not what the leader forked.
This program is how local agents end with their supervisor. The supervisor starts it once, in
its own session, and keeps the only write end of its stdin. The kernel closes that end
however the supervisor dies, so end-of-file here is the one reliable death notice.

Protocol on stdin, one per line: ``+PGID`` registers a process group, ``-PGID`` forgets
it. At end-of-file every group still registered gets SIGTERM, then SIGKILL after a grace
period, and the program exits. A clean supervisor unregisters everything before closing,
so then there is nothing to do.

Process groups do not hold everything an agent starts: a daemon that double-forks and
calls `setsid()`, or a helper started with `start_new_session=True`, leaves the group,
and once its parent is gone it is re-parented away from the agent's tree too. What it
keeps is its environment. Every local agent is launched with ``AGENTSUP_AGENT_RUN`` set
to ``<hub id>.<launch number>``, and every descendant that does not replace its whole
environment inherits it. The reaper gets the hub id as its argument and, at end-of-file,
ends every process marked with it as well, wherever it sits in the process tree. The
hub uses the same scan (`escaped`) to end one agent's escaped descendants on every stop
and after every exit. This needs no root and no cgroups (it works on cgroup v1 hosts);
a process that clears its environment *and* leaves the agent's tree is not found.

Only the standard library is used: the supervisor runs this file by path with ``-I -S``
so it starts fast and does not depend on how `agentsup` was installed.
"""

from __future__ import annotations

import errno
import os
import signal
import sys
import threading
import time
from collections.abc import Iterable

GRACE_SECONDS = 2.0
PIDFDS_REFUSED = frozenset({errno.ENOSYS, errno.EPERM, errno.EACCES})
"""How `pidfd_open` answers on a kernel without it (before Linux 5.3) or under a
seccomp profile that refuses it (Docker's before 20.10)."""
_POLL_SECONDS = 0.05
MARK_VARIABLE = "AGENTSUP_AGENT_RUN"
_MARK_NEEDLE = b"\0" + MARK_VARIABLE.encode() + b"="


class Proc:
    """What the scan learns about one process; `start` tells a reused pid apart."""

    __slots__ = ("mark", "parent", "pgid", "pid", "start")

    def __init__(self, pid: int, parent: int, pgid: int, start: int, mark: bytes) -> None:
        self.pid = pid
        self.parent = parent
        self.pgid = pgid
        self.start = start
        self.mark = mark


def _stat(pid: int) -> tuple[int, int, int] | None:
    """(parent, pgid, start time) of a live process; None for zombies and the gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            fields = handle.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return None
    if len(fields) < 20 or fields[0] in (b"Z", b"X"):
        return None
    return int(fields[1]), int(fields[2]), int(fields[19])


def _mark(pid: int) -> bytes:
    """The value of MARK_VARIABLE in the environment a process was started with."""
    try:
        with open(f"/proc/{pid}/environ", "rb") as handle:
            data = b"\0" + handle.read()
    except OSError:
        return b""
    at = data.find(_MARK_NEEDLE)
    if at < 0:
        return b""
    start = at + len(_MARK_NEEDLE)
    end = data.find(b"\0", start)
    return data[start:] if end < 0 else data[start:end]


def scan() -> list[Proc]:
    """Every live process this user can see, with its mark (b"" when unmarked)."""
    me = os.getpid()
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        if pid == me:
            continue
        stat = _stat(pid)
        if stat is not None:
            found.append(Proc(pid, *stat, _mark(pid)))
    return found


class SharedScan:
    """One /proc scan shared by everyone who asked while it was being taken.

    A scan costs a few milliseconds per hundred processes; stopping or reaping hundreds
    of agents at once must not take hundreds of them. `since(t)` returns a scan that
    started at or after monotonic time `t`, taking one only if the last is older: the
    callers that queued up behind one scan all share the next.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._started = float("-inf")
        self._procs: list[Proc] = []

    def since(self, moment: float) -> list[Proc]:
        with self._lock:
            if self._started < moment:
                started = time.monotonic()
                self._procs = scan()
                self._started = started
            return self._procs


def escaped(leader: int, mark: bytes, procs: list[Proc] | None = None) -> list[Proc]:
    """Processes of one agent outside its process group.

    Those marked with `mark`, and the leader's descendants by parent link (which also
    catches a descendant that replaced its environment, while it is still in the tree).
    Members of the leader's own group are left out: `killpg` reaches them.
    """
    procs = scan() if procs is None else procs
    children: dict[int, list[Proc]] = {}
    for proc in procs:
        children.setdefault(proc.parent, []).append(proc)
    chosen = {proc.pid: proc for proc in procs if mark and proc.mark == mark}
    todo = [leader, *chosen]
    while todo:
        for child in children.get(todo.pop(), ()):
            if child.pid not in chosen:
                chosen[child.pid] = child
                todo.append(child.pid)
    return [p for p in chosen.values() if p.pgid != leader and p.pid != leader]


def signal_procs(procs: list[Proc], sig: int) -> None:
    """Signal each process unless its pid now belongs to a different process.

    A pidfd pins the process; the start time read after opening it must still be the
    one the scan saw, or the pid was reused in between and is left alone. Where the
    kernel has no pidfds (before Linux 5.3, or refused by a seccomp profile), the start
    time is checked right before a plain kill: a pid reused in the instant between the
    two could still be hit, as with any tool that signals by pid, but the daemon is not
    left running.
    """
    for proc in procs:
        pidfd: int | None = None
        try:
            pidfd = os.pidfd_open(proc.pid)
        except AttributeError:  # a Python built without it
            pass
        except OSError as exc:
            if exc.errno not in PIDFDS_REFUSED:
                continue  # gone already
        try:
            stat = _stat(proc.pid)
            if stat is not None and stat[2] == proc.start:
                if pidfd is None:
                    os.kill(proc.pid, sig)
                else:
                    signal.pidfd_send_signal(pidfd, sig)
        except OSError:
            pass
        finally:
            if pidfd is not None:
                os.close(pidfd)


def marked_by(hub_id: bytes, procs: list[Proc]) -> list[Proc]:
    """Processes marked by any launch of one hub (``<hub id>.<n>``)."""
    prefix = hub_id + b"."
    return [proc for proc in procs if hub_id and proc.mark.startswith(prefix)]


def _signal_group(pgid: int, sig: int) -> bool:
    """Signal a group; report whether it may still exist.

    A permission error is counted as gone: the group id then belongs to someone else's
    processes (the id was reused), and those are not ours to wait for.
    """
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _parse(line: bytes, groups: set[int]) -> None:
    text = line.strip()
    if len(text) < 2 or text[:1] not in (b"+", b"-"):
        return
    try:
        pgid = int(text[1:])
    except ValueError:
        return
    # 0 and 1 would mean our own group or init's; negative ids mean "all processes".
    if pgid <= 1:
        return
    if text[:1] == b"+":
        groups.add(pgid)
    else:
        groups.discard(pgid)


def read_registrations(lines: Iterable[bytes]) -> set[int]:
    """Apply every registration line until the stream ends; return what is left."""
    groups: set[int] = set()
    for line in lines:
        _parse(line, groups)
    return groups


def end_groups(groups: set[int], grace: float = GRACE_SECONDS, hub_id: bytes = b"") -> None:
    """SIGTERM, wait for up to `grace` seconds, then SIGKILL whatever is left.

    That covers the registered groups and every process marked by `hub_id`; the marked
    ones are looked up again on every poll, so a daemon forked during the grace period
    is found too. The reaper is not the parent of these processes, so it cannot wait
    for them; it probes with signal 0 instead. Zombies answer that probe too, which at
    worst makes it wait out the grace period before a harmless SIGKILL.
    """
    alive = {pgid for pgid in groups if _signal_group(pgid, signal.SIGTERM)}
    marked = marked_by(hub_id, scan()) if hub_id else []
    signal_procs(marked, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while (alive or marked) and time.monotonic() < deadline:
        time.sleep(_POLL_SECONDS)
        alive = {pgid for pgid in alive if _signal_group(pgid, 0)}
        if hub_id:
            termed = {proc.pid for proc in marked}
            marked = marked_by(hub_id, scan())
            signal_procs([p for p in marked if p.pid not in termed], signal.SIGTERM)
    for pgid in alive:
        _signal_group(pgid, signal.SIGKILL)
    signal_procs(marked, signal.SIGKILL)


def main() -> int:
    # Ctrl-C, Ctrl-\ or a stray SIGTERM aimed at the supervisor must not take the
    # safety net down with it; only end-of-file on stdin ends this program.
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(sig, signal.SIG_IGN)
    hub_id = sys.argv[1].encode() if len(sys.argv) > 1 else b""
    groups = read_registrations(sys.stdin.buffer)
    end_groups(groups, hub_id=hub_id)
    return 0


if __name__ == "__main__":
    sys.exit(main())
