"""Host names to addresses, looked up off the probe thread.

`getaddrinfo` blocks, for seconds when a DNS server is slow, and the probe thread drives
every probe of the job, so it never calls it: a helper thread does, one name at a time,
and wakes the probe thread when an answer is in. Answers are kept for `TTL` seconds and
refreshed in the background after that (the old addresses stay in use meanwhile); a
failed lookup is kept for `ERROR_TTL` seconds, so that fast readiness polling does not
turn into a lookup every 10 ms.

Names are kept per host, not per host and port: every local agent is `localhost` on a
port of its own, and a lookup for each was a system call's worth of work on the helper
thread, and a wake-up of both threads, per agent while they boot.
"""

from __future__ import annotations

import ipaddress
import math
import queue
import socket
import threading
import time
from collections.abc import Callable

import msgspec

TTL = 60.0
ERROR_TTL = 1.0

Address = tuple[int, str, int]
"""(address family, address, port) of one place to connect to."""


class _Entry(msgspec.Struct):
    at: float
    addresses: list[tuple[int, str]]
    """(family, address): the port is the caller's."""
    error: str
    pending: bool


def literal(host: str, port: int) -> list[Address] | None:
    """The address itself when `host` is an IP literal (no lookup needed)."""
    try:
        ip = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None
    family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
    return [(int(family), str(ip), port)]


def lookup_now(host: str, port: int) -> list[Address]:
    """Every TCP address of `host`, in the resolver's order (RFC 6724), duplicates
    dropped. Blocks: only for the helper thread."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    seen: list[Address] = []
    for family, _, _, _, address in infos:
        item = (int(family), str(address[0]), port)
        if item not in seen:
            seen.append(item)
    return seen


class NameCache:
    """Addresses per host, given with the caller's port; `on_ready` runs on the helper
    thread after a lookup."""

    def __init__(
        self, on_ready: Callable[[], None], clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._on_ready = on_ready
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[str, _Entry] = {}
        self._queue: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="agentsup-resolve", daemon=True)
        self._thread.start()

    def get(self, host: str, port: int) -> list[Address] | str | None:
        """The addresses, an error text, or None while the first lookup is under way."""
        now = self._clock()
        with self._lock:
            entry = self._entries.get(host)
            if entry is None:
                found = literal(host, port)
                if found is not None:  # kept for good: an address never changes
                    self._entries[host] = _Entry(math.inf, [(found[0][0], found[0][1])], "",
                                                 pending=False)
                    return found
                self._entries[host] = _Entry(now, [], "", pending=True)
                self._queue.put(host)
                return None
            ttl = TTL if entry.addresses else ERROR_TTL
            if not entry.pending and now - entry.at >= ttl:
                entry.pending = True
                self._queue.put(host)
                if not entry.addresses:
                    return None
            if entry.addresses:
                return [(family, ip, port) for family, ip in entry.addresses]
            return entry.error or None

    def close(self) -> None:
        self._queue.put(None)

    def _run(self) -> None:
        while True:
            host = self._queue.get()
            if host is None:
                return
            addresses: list[tuple[int, str]] = []
            error = ""
            try:
                addresses = [(family, ip) for family, ip, _ in lookup_now(host, 0)]
                if not addresses:
                    error = f"cannot resolve {host}: no addresses"
            except OSError as exc:
                error = f"cannot resolve {host}: {exc.strerror or exc}"
            with self._lock:
                entry = self._entries[host]
                entry.at = self._clock()
                entry.pending = False
                entry.error = error
                if addresses or not entry.addresses:
                    entry.addresses = addresses
            self._on_ready()
