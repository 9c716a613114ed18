"""Repeating probes (`ProbeLoop.schedule(repeat=True)`) against real servers on loopback:
passes kept back, a failure reported and ending the repetition, and the connection kept
between runs (a new one every `FRESH_EVERY` runs, a closed one replaced unnoticed)."""

from __future__ import annotations

import contextlib
import queue
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest

from agentsup.probes import loop as loop_module
from agentsup.probes.loop import FRESH_EVERY, ProbeLoop, ProbeResult, probe_request
from agentsup.probes.polling import Polling

pytestmark = pytest.mark.timeout(60)

INTERVAL = 0.05
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
SICK = b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n"


@dataclass
class Server:
    """A loopback HTTP server that counts connections and requests.

    `answers_per_connection`: after that many answers on one connection it closes the
    connection when the next request comes, unanswered (as a server whose idle timeout
    struck just then). `sick` makes it answer 500. `stop_accepting()` closes the
    listener while connections already open are still served."""

    answers_per_connection: int = 1000
    sick: bool = False
    connections: int = 0
    requests: int = 0
    closed_by_client: int = 0
    listener: socket.socket = field(default_factory=socket.socket)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def port(self) -> int:
        return int(self.listener.getsockname()[1])

    def start(self) -> None:
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        threading.Thread(target=self._accept, daemon=True).start()

    def stop_accepting(self) -> None:
        with contextlib.suppress(OSError):  # wakes the accept, and refuses connects
            self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with self.lock:
                self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        answered = 0
        buffer = b""
        with conn:
            while True:
                try:
                    data = conn.recv(4096)
                except OSError:
                    data = b""
                if not data:
                    with self.lock:
                        self.closed_by_client += 1
                    return
                buffer += data
                while b"\r\n\r\n" in buffer:
                    _, buffer = buffer.split(b"\r\n\r\n", 1)
                    if answered >= self.answers_per_connection:
                        return  # closed without an answer
                    with self.lock:
                        self.requests += 1
                    conn.sendall(SICK if self.sick else OK)
                    answered += 1


@contextmanager
def serving(**options: object) -> Iterator[Server]:
    server = Server(**options)  # type: ignore[arg-type]
    server.start()
    try:
        yield server
    finally:
        server.stop_accepting()



def wait_until(condition: object, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "the condition never came true"
        time.sleep(0.01)


def test_passes_are_kept_back_and_the_connection_is_reused(loop: ProbeLoop) -> None:
    results: queue.Queue[ProbeResult] = queue.Queue()
    with serving() as server:
        loop.schedule(INTERVAL, probe_request(f"http://localhost:{server.port}/", 2.0),
                      results.put, repeat=True)
        runs = 3 * FRESH_EVERY + 1
        wait_until(lambda: server.requests >= runs)
        assert results.empty()  # every run passed: nothing reported
        # One connection per FRESH_EVERY runs (the first run opens one too).
        assert 3 <= server.connections <= runs // FRESH_EVERY + 1
        assert server.closed_by_client >= 2  # the replaced connections were closed


def test_a_failure_is_reported_once_and_ends_the_repetition(loop: ProbeLoop) -> None:
    results: queue.Queue[ProbeResult] = queue.Queue()
    with serving() as server:
        loop.schedule(INTERVAL, probe_request(f"http://127.0.0.1:{server.port}/", 2.0),
                      results.put, repeat=True)
        wait_until(lambda: server.requests >= 3)
        server.sick = True
        failed = results.get(timeout=20)
        assert not failed.ok and failed.error == "HTTP 500"
        seen = server.requests
        time.sleep(10 * INTERVAL)
        assert server.requests == seen and results.empty()
        wait_until(lambda: server.closed_by_client == server.connections)


def test_a_kept_connection_the_server_closed_is_replaced_without_a_failure(
    loop: ProbeLoop,
) -> None:
    """The server answers once per connection, then drops the connection when the next
    request comes: each run's request on the kept connection goes unanswered, and the
    probe must connect anew within its deadline rather than fail."""
    results: queue.Queue[ProbeResult] = queue.Queue()
    with serving(answers_per_connection=1) as server:
        loop.schedule(INTERVAL, probe_request(f"http://localhost:{server.port}/", 2.0),
                      results.put, repeat=True)
        wait_until(lambda: server.requests >= 8)
        assert results.empty()
        assert server.connections >= 8


def test_an_agent_that_stops_accepting_fails_within_fresh_every_runs(
    loop: ProbeLoop,
) -> None:
    """The kept connection is still answered, but new connections are refused: a check
    on a new connection (every FRESH_EVERY-th) finds it out."""
    results: queue.Queue[ProbeResult] = queue.Queue()
    with serving() as server:
        loop.schedule(INTERVAL, probe_request(f"http://127.0.0.1:{server.port}/", 2.0),
                      results.put, repeat=True)
        wait_until(lambda: server.requests >= 1)
        server.stop_accepting()
        connections, requests = server.connections, server.requests
        failed = results.get(timeout=20)
        assert not failed.ok and "Connection refused" in failed.error
        assert server.connections == connections  # nothing accepted after the stop
        assert server.requests - requests < FRESH_EVERY  # answered on the kept connection


def test_cancelling_closes_the_kept_connection(loop: ProbeLoop) -> None:
    results: queue.Queue[ProbeResult] = queue.Queue()
    with serving() as server:
        handle = loop.schedule(INTERVAL, probe_request(f"http://localhost:{server.port}/",
                                                       2.0), results.put, repeat=True)
        wait_until(lambda: server.requests >= 2)
        handle.cancel()
        wait_until(lambda: server.closed_by_client == server.connections)
        seen = server.requests
        time.sleep(10 * INTERVAL)
        assert server.requests == seen and results.empty()


def test_closing_the_loop_closes_kept_connections() -> None:
    probes = ProbeLoop()
    with serving() as server:
        probes.schedule(INTERVAL, probe_request(f"http://localhost:{server.port}/", 2.0),
                        lambda _: None, repeat=True)
        wait_until(lambda: server.requests >= 2)
        probes.close()
        wait_until(lambda: server.closed_by_client == server.connections)


def test_a_server_that_asks_to_close_gets_a_new_connection_every_run(loop: ProbeLoop) -> None:
    """HTTP/1.0 answers (as from a plain `http.server`) end the connection: no reuse."""
    results: queue.Queue[ProbeResult] = queue.Queue()
    with serving() as server:
        global OK
        saved, OK = OK, b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok"
        try:
            loop.schedule(INTERVAL, probe_request(f"http://localhost:{server.port}/", 2.0),
                          results.put, repeat=True)
            wait_until(lambda: server.requests >= 4)
        finally:
            OK = saved
        assert results.empty()
        assert server.connections >= 4


def test_the_first_liveness_run_uses_the_connection_readiness_passed_on(
    loop: ProbeLoop,
) -> None:
    """A local agent's readiness pass leaves its connection open for the agent's first
    liveness check: a job whose agents all become ready at once does not connect to
    every one of them again a moment later."""
    ready: queue.Queue[ProbeResult] = queue.Queue()
    alive: queue.Queue[ProbeResult] = queue.Queue()
    with serving() as server:
        url = f"http://localhost:{server.port}/"
        loop.schedule(0.0, probe_request(url, 2.0), ready.put, polling=Polling(0.0, 30.0, 10.0))
        assert ready.get(timeout=10).ok
        loop.schedule(INTERVAL, probe_request(url, 2.0), alive.put, repeat=True)
        wait_until(lambda: server.requests >= FRESH_EVERY)
        assert alive.empty()
        assert server.connections == 1  # readiness and the first FRESH_EVERY - 1 runs


def test_a_held_connection_that_no_liveness_check_takes_is_closed(
    loop: ProbeLoop, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An agent without HTTP liveness (here a tcp check, which sends nothing) does not
    keep the held connection: the tcp check connects anew, and the held one is closed
    at once or after PARK_FOR."""
    monkeypatch.setattr(loop_module, "PARK_FOR", 0.3)
    monkeypatch.setattr(loop_module, "PARK_SWEEP", 0.1)
    ready: queue.Queue[ProbeResult] = queue.Queue()
    with serving() as server:
        url = f"http://localhost:{server.port}/"
        loop.schedule(0.0, probe_request(url, 2.0), ready.put, polling=Polling(0.0, 30.0, 10.0))
        assert ready.get(timeout=10).ok
        wait_until(lambda: server.closed_by_client == server.connections == 1)
        alive: queue.Queue[ProbeResult] = queue.Queue()
        loop.schedule(0.0, probe_request(url, 2.0, kind="tcp"), alive.put)
        assert alive.get(timeout=10).ok
        assert server.requests == 1  # the tcp check sent nothing on any connection


def test_a_held_connection_the_agent_closed_is_not_used(loop: ProbeLoop) -> None:
    """The agent closes the held connection (an idle timeout): the first liveness run
    connects anew and passes, without a failure."""
    ready: queue.Queue[ProbeResult] = queue.Queue()
    alive: queue.Queue[ProbeResult] = queue.Queue()
    with serving(answers_per_connection=1) as server:
        url = f"http://localhost:{server.port}/"
        loop.schedule(0.0, probe_request(url, 2.0), ready.put, polling=Polling(0.0, 30.0, 10.0))
        assert ready.get(timeout=10).ok
        loop.schedule(INTERVAL, probe_request(url, 2.0), alive.put, repeat=True)
        wait_until(lambda: server.requests >= 4)
        assert alive.empty()
        assert server.connections >= 4
