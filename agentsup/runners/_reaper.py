"""Watchdog that ends local agents when the supervisor dies without cleaning up.

`PR_SET_PDEATHSIG` only reaches an agent's leader; anything the leader forked survives
a SIGKILLed supervisor. This program closes that gap. The supervisor starts it once, in
its own session, and keeps the only write end of its stdin. The kernel closes that end
however the supervisor dies, so end-of-file here is the one reliable death notice.

Protocol on stdin, one per line: ``+PGID`` registers a process group, ``-PGID`` forgets
it. At end-of-file every group still registered gets SIGTERM, then SIGKILL after a grace
period, and the program exits. A clean supervisor unregisters everything before closing,
so then there is nothing to do.

Only the standard library is used: the supervisor runs this file by path with ``-I -S``
so it starts fast and does not depend on how `agentsup` was installed.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Iterable

GRACE_SECONDS = 2.0
_POLL_SECONDS = 0.05


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


def end_groups(groups: set[int], grace: float = GRACE_SECONDS) -> None:
    """SIGTERM, wait for up to `grace` seconds, then SIGKILL whatever is left.

    The reaper is not the parent of these processes, so it cannot wait for them; it
    probes with signal 0 instead. Zombies answer that probe too, which at worst makes
    it wait out the grace period before a harmless SIGKILL.
    """
    alive = {pgid for pgid in groups if _signal_group(pgid, signal.SIGTERM)}
    deadline = time.monotonic() + grace
    while alive and time.monotonic() < deadline:
        time.sleep(_POLL_SECONDS)
        alive = {pgid for pgid in alive if _signal_group(pgid, 0)}
    for pgid in alive:
        _signal_group(pgid, signal.SIGKILL)


def main() -> int:
    # Ctrl-C or a stray SIGTERM aimed at the supervisor must not take the safety net
    # down with it; only end-of-file on stdin ends this program.
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    groups = read_registrations(sys.stdin.buffer)
    end_groups(groups)
    return 0


if __name__ == "__main__":
    sys.exit(main())
