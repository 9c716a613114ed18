"""Health probes: an HTTP GET of the agent's URL and path; any 2xx is healthy.

Probes run on a small shared pool so that a slow agent never blocks an actor's thread,
and share one HTTP client. Connections are not kept alive between checks: with many
agents, httpcore's pool bookkeeping costs more than a new loopback connect.
While an agent is starting, a plain TCP connect comes first: it fails fast and cheaply
until the agent listens, which keeps fast readiness polling affordable for many agents.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

FAST_POLL = 0.01
FAST_PERIOD = 2.0
BACKOFF_FACTOR = 1.5
KEEPALIVE_CONNECTIONS = 0
"""Measured (docs/performance.md): with 200 agents, a pool of 32 idle connections cost
8.7 % of a core at idle, 1024 cost 70-95 %, none 5 %."""


@dataclass(frozen=True)
class ProbeResult:
    ok: bool
    error: str = ""


def readiness_delay(previous: float | None, elapsed: float, interval: float) -> float:
    """The pause before the next readiness probe.

    Every 10 ms for the first two seconds (so `agent.ready` follows listening within tens
    of milliseconds), then growing by half each time, never beyond `interval`.
    """
    if elapsed < FAST_PERIOD or previous is None:
        return min(FAST_POLL, interval)
    return min(max(previous, FAST_POLL) * BACKOFF_FACTOR, interval)


def _port_open(url: str, timeout: float) -> str | None:
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return None
    except OSError as exc:
        return f"cannot connect to {host}:{port}: {exc.strerror or exc}"


MAX_RESPONSE = 64 * 1024
"""Bytes of a health response read at most; a health answer is small."""


def plain_http_probe(url: str, timeout: float) -> ProbeResult:
    """GET over a plain socket: one request line, the status line back.

    Health checks of hundreds of agents every few seconds are the supervisor's main idle
    cost, and a general HTTP client spends far more CPU per request than this needs. The
    whole (small) response is read before closing, so the agent never sees a reset.
    """
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    port = parts.port or 80
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: agentsup\r\n"
        "Accept: */*\r\nConnection: close\r\n\r\n"
    ).encode("ascii", errors="replace")
    deadline = time.monotonic() + timeout
    received = b""
    try:
        with socket.create_connection((host, port), timeout=timeout) as connection:
            connection.sendall(request)
            while len(received) < MAX_RESPONSE:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError
                connection.settimeout(remaining)
                chunk = connection.recv(16384)
                if not chunk:
                    break
                received += chunk
    except TimeoutError:
        if b"\r\n" not in received:
            return ProbeResult(False, f"no answer within {timeout:g} s")
    except OSError as exc:
        if b"\r\n" not in received:
            return ProbeResult(False, f"cannot get {url}: {exc.strerror or exc}")
    status_line = received.split(b"\r\n", 1)[0].decode("latin-1")
    fields = status_line.split(" ", 2)
    if len(fields) < 2 or not fields[0].startswith("HTTP/") or not fields[1].isdigit():
        return ProbeResult(False, f"not an HTTP answer: {status_line[:80]!r}")
    status = int(fields[1])
    if 200 <= status < 300:
        return ProbeResult(True)
    return ProbeResult(False, f"HTTP {status}")


class Prober:
    """Runs probes off the actor threads and hands each result to a callback."""

    def __init__(self, workers: int = 8) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="agentsup-probe")
        self._client = httpx.Client(
            trust_env=False,  # a proxy from the environment must not see local probes
            follow_redirects=False,
            # No idle keep-alive connections: httpcore scans (and polls) every pooled
            # connection on each request, which costs more than a fresh connect.
            limits=httpx.Limits(
                max_connections=64, max_keepalive_connections=KEEPALIVE_CONNECTIONS
            ),
        )

    def probe(self, url: str, timeout: float, *, quick_connect: bool) -> ProbeResult:
        if quick_connect:
            problem = _port_open(url, timeout)
            if problem is not None:
                return ProbeResult(False, problem)
        if url.startswith("http://"):
            return plain_http_probe(url, timeout)
        try:
            response = self._client.get(url, timeout=timeout)
        except httpx.TimeoutException:
            return ProbeResult(False, f"no answer within {timeout:g} s")
        except httpx.HTTPError as exc:
            return ProbeResult(False, f"{type(exc).__name__}: {exc}")
        if 200 <= response.status_code < 300:
            return ProbeResult(True)
        return ProbeResult(False, f"HTTP {response.status_code}")

    def submit(
        self,
        url: str,
        timeout: float,
        done: Callable[[ProbeResult], None],
        *,
        quick_connect: bool = False,
    ) -> None:
        def run() -> None:
            try:
                result = self.probe(url, timeout, quick_connect=quick_connect)
            except Exception as exc:  # a probe must always answer
                result = ProbeResult(False, f"probe error: {exc}")
            done(result)

        with contextlib.suppress(RuntimeError):  # pool shut down: the job is ending
            self._pool.submit(run)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._client.close()
