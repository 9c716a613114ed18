"""One thread that runs every HTTP health probe of a job, without blocking on any.

A health check is a connect, one small request and one small answer. Doing each on a
pool thread, woken by a timer thread, costs several thread wake-ups per check, and with
hundreds of agents checked every few seconds those wake-ups are most of the supervisor's
idle CPU. Here a single selector loop keeps the due times in a heap and drives every
probe's socket without blocking, so an idle check costs one wake-up of this thread and
the message that carries the result to the agent's actor.
"""

from __future__ import annotations

import contextlib
import errno
import heapq
import itertools
import logging
import math
import os
import selectors
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

logger = logging.getLogger(__name__)

MAX_RESPONSE = 64 * 1024
"""Bytes of a health answer read at most; the status line is all that counts."""
ALIGN_GRID = 0.05
"""Probes scheduled at least `ALIGN_FROM` seconds ahead start on multiples of this."""
ALIGN_FROM = 1.0
RESOLVE_TTL = 60.0
"""Seconds a host name's addresses are reused before they are looked up again."""


@dataclass(frozen=True)
class ProbeResult:
    ok: bool
    error: str = ""


Done = Callable[[ProbeResult], None]


class ProbeHandle:
    """Cancels a scheduled probe; a probe already under way still answers."""

    __slots__ = ("cancelled",)

    def __init__(self) -> None:
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


@dataclass
class _Target:
    host: str
    port: int
    request: bytes


@dataclass
class _Probe:
    target: _Target
    deadline: float
    timeout: float
    done: Done
    sock: socket.socket | None = None
    sent: int = 0
    received: bytearray = field(default_factory=bytearray)
    connected: bool = False


def parse_target(url: str) -> _Target:
    parts = urlsplit(url)
    if parts.scheme != "http":
        raise ValueError(f"only http:// URLs can be probed, not {url!r}")
    host = parts.hostname or "localhost"
    port = parts.port or 80
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: agentsup\r\n"
        "Accept: */*\r\nConnection: close\r\n\r\n"
    ).encode("ascii", errors="replace")
    return _Target(host, port, request)


def status_result(received: bytes) -> ProbeResult:
    """Judge a response by its status line: any 2xx is healthy."""
    status_line = bytes(received).split(b"\r\n", 1)[0].decode("latin-1")
    fields = status_line.split(" ", 2)
    if len(fields) < 2 or not fields[0].startswith("HTTP/") or not fields[1].isdigit():
        return ProbeResult(False, f"not an HTTP answer: {status_line[:80]!r}")
    status = int(fields[1])
    if 200 <= status < 300:
        return ProbeResult(True)
    return ProbeResult(False, f"HTTP {status}")


def _complete(received: bytearray) -> bool:
    """Whether a whole response is in: headers, then `Content-Length` bytes of body.

    Without a length the answer ends when the agent closes the connection, as asked by
    `Connection: close`. Reading the body before closing spares the agent a reset.
    """
    end = received.find(b"\r\n\r\n")
    if end < 0:
        return False
    for line in bytes(received[:end]).split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            try:
                return len(received) - (end + 4) >= int(value.strip())
            except ValueError:
                return False
    return False


class ProbeLoop:
    """Schedules and runs probes; `done` callbacks run on the loop's thread."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._selector = selectors.DefaultSelector()
        self._wake_read, self._wake_write = os.pipe()
        os.set_blocking(self._wake_read, False)
        os.set_blocking(self._wake_write, False)
        self._selector.register(self._wake_read, selectors.EVENT_READ, None)
        self._lock = threading.Lock()
        self._due: list[tuple[float, int, ProbeHandle, _Target, float, Done]] = []
        self._counter = itertools.count()
        self._active: dict[int, _Probe] = {}
        self._addresses: dict[tuple[str, int], tuple[float, list[tuple[int, tuple[str, int]]]]]
        self._addresses = {}
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="agentsup-probes", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ any thread

    def schedule(self, delay: float, url: str, timeout: float, done: Done) -> ProbeHandle:
        handle = ProbeHandle()
        try:
            target = parse_target(url)
        except ValueError as exc:
            done(ProbeResult(False, str(exc)))
            return handle
        with self._lock:
            if self._closed:
                return handle
            due = self._clock() + max(delay, 0.0)
            if delay >= ALIGN_FROM:
                # Round up to the grid, so that checks which fall due close together
                # run in one wake-up of this thread instead of one each.
                due = math.ceil(due / ALIGN_GRID) * ALIGN_GRID
            heapq.heappush(self._due, (due, next(self._counter), handle, target, timeout, done))
            first = self._due[0][2] is handle
        if first:
            self._wake()
        return handle

    def close(self) -> None:
        with self._lock:
            self._closed = True
        self._wake()
        self._thread.join(timeout=2.0)

    def _wake(self) -> None:
        with contextlib.suppress(BlockingIOError, OSError):
            os.write(self._wake_write, b"x")

    # ------------------------------------------------------------------ loop thread

    def _run(self) -> None:
        try:
            while True:
                with self._lock:
                    if self._closed:
                        break
                self._start_due()
                for key, events in self._selector.select(self._wait_time()):
                    if key.data is None:
                        with contextlib.suppress(BlockingIOError):
                            os.read(self._wake_read, 4096)
                        continue
                    self._advance(key.data, events)
                self._expire()
        except Exception:  # keep the job informed rather than silently stop probing
            logger.exception("the health probe loop failed")
        finally:
            for probe in list(self._active.values()):
                self._finish(probe, ProbeResult(False, "the job is stopping"), report=False)
            self._selector.close()
            os.close(self._wake_read)
            os.close(self._wake_write)

    def _wait_time(self) -> float | None:
        now = self._clock()
        times = [probe.deadline for probe in self._active.values()]
        with self._lock:
            if self._due:
                times.append(self._due[0][0])
        if not times:
            return None
        return max(min(times) - now, 0.0)

    def _start_due(self) -> None:
        now = self._clock()
        while True:
            with self._lock:
                if not self._due or self._due[0][0] > now:
                    return
                _, _, handle, target, timeout, done = heapq.heappop(self._due)
            if not handle.cancelled:
                self._open(target, timeout, done)

    def _resolve(self, host: str, port: int) -> list[tuple[int, tuple[str, int]]]:
        now = self._clock()
        cached = self._addresses.get((host, port))
        if cached is not None and now - cached[0] < RESOLVE_TTL:
            return cached[1]
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        addresses: list[tuple[int, tuple[str, int]]] = [
            (int(family), (str(address[0]), int(address[1])))
            for family, _, _, _, address in infos
        ]
        self._addresses[(host, port)] = (now, addresses)
        return addresses

    def _open(self, target: _Target, timeout: float, done: Done) -> None:
        probe = _Probe(target, self._clock() + timeout, timeout, done)
        try:
            family, address = self._resolve(target.host, target.port)[0]
            sock = socket.socket(family, socket.SOCK_STREAM)
        except (OSError, IndexError) as exc:
            reason = getattr(exc, "strerror", None) or exc
            done(ProbeResult(False, f"cannot resolve {target.host}: {reason}"))
            return
        sock.setblocking(False)
        probe.sock = sock
        self._active[sock.fileno()] = probe
        code = sock.connect_ex(address)
        if code not in (0, errno.EINPROGRESS, errno.EAGAIN):  # else: wait for writable
            self._fail_connect(probe, code)
            return
        self._selector.register(sock, selectors.EVENT_WRITE, probe)

    def _fail_connect(self, probe: _Probe, code: int) -> None:
        target = probe.target
        self._finish(
            probe,
            ProbeResult(False, f"cannot connect to {target.host}:{target.port}: "
                        f"{os.strerror(code)}"),
        )

    def _advance(self, probe: _Probe, events: int) -> None:
        sock = probe.sock
        assert sock is not None
        try:
            if not probe.connected:
                code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if code != 0:
                    self._fail_connect(probe, code)
                    return
                probe.connected = True
            if probe.sent < len(probe.target.request):
                probe.sent += sock.send(probe.target.request[probe.sent:])
                if probe.sent < len(probe.target.request):
                    return
                self._selector.modify(sock, selectors.EVENT_READ, probe)
                return
            if events & selectors.EVENT_READ:
                chunk = sock.recv(16384)
                probe.received += chunk
                if chunk and len(probe.received) < MAX_RESPONSE and not _complete(
                    probe.received
                ):
                    return
                self._finish(probe, status_result(bytes(probe.received)))
        except BlockingIOError:
            return
        except OSError as exc:
            if b"\r\n" in probe.received:
                self._finish(probe, status_result(bytes(probe.received)))
            else:
                url = f"http://{probe.target.host}:{probe.target.port}"
                self._finish(probe, ProbeResult(False, f"cannot get {url}: "
                                                f"{exc.strerror or exc}"))

    def _expire(self) -> None:
        now = self._clock()
        for probe in [p for p in self._active.values() if p.deadline <= now]:
            if b"\r\n" in probe.received:
                self._finish(probe, status_result(bytes(probe.received)))
            else:
                self._finish(probe, ProbeResult(False, f"no answer within {probe.timeout:g} s"))

    def _finish(self, probe: _Probe, result: ProbeResult, *, report: bool = True) -> None:
        sock = probe.sock
        if sock is not None:
            self._active.pop(sock.fileno(), None)
            with contextlib.suppress(KeyError, ValueError):
                self._selector.unregister(sock)
            sock.close()
            probe.sock = None
        if not report:
            return
        try:
            probe.done(result)
        except Exception:
            logger.exception("a health probe callback failed")
