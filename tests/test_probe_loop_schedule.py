"""The probe loop against real sockets and real HTTP servers on loopback."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from queue import Queue

import pytest

from agentsup.probes.loop import ProbeLoop, ProbeRequest, ProbeResult, probe_request

pytestmark = pytest.mark.timeout(30)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive unless asked to close

    def do_GET(self) -> None:
        status = 500 if self.path.startswith("/sick") else 200
        body = b'{"ok": true}'
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


class Server(ThreadingHTTPServer):
    request_queue_size = 256  # the default of 5 would drop the SYNs of a burst of probes
    daemon_threads = True


@contextmanager
def http_server(handler: type[BaseHTTPRequestHandler] = Handler) -> Iterator[int]:
    server = Server(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def raw_server(answer: bytes | None) -> Iterator[int]:
    """Accepts connections; sends `answer` (then keeps the socket open), or nothing."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    held: list[socket.socket] = []
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            held.append(conn)
            if answer is not None:
                conn.sendall(answer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(timeout=2)
        for conn in held:
            conn.close()
        listener.close()



def get(url: str, timeout: float = 1.0) -> ProbeRequest:
    return probe_request(url, timeout)


def probe(loop: ProbeLoop, url: str, timeout: float = 2.0, delay: float = 0.0) -> ProbeResult:
    results: Queue[ProbeResult] = Queue()
    loop.schedule(delay, get(url, timeout), results.put)
    return results.get(timeout=timeout + delay + 5)


def test_2xx_is_healthy_and_other_codes_are_not(loop: ProbeLoop) -> None:
    with http_server() as port:
        assert probe(loop, f"http://127.0.0.1:{port}/health") == ProbeResult(True)
        assert probe(loop, f"http://localhost:{port}/sick") == ProbeResult(False, "HTTP 500")


def test_a_keep_alive_answer_with_a_length_completes_without_waiting(loop: ProbeLoop) -> None:
    with http_server() as port:
        started = time.monotonic()
        assert probe(loop, f"http://127.0.0.1:{port}/", timeout=5.0).ok
        assert time.monotonic() - started < 2.0


def test_refused_connection_fails_at_once(loop: ProbeLoop) -> None:
    with socket.socket() as placeholder:
        placeholder.bind(("127.0.0.1", 0))
        port = placeholder.getsockname()[1]  # bound, not listening: connects are refused
        result = probe(loop, f"http://127.0.0.1:{port}/health")
    assert not result.ok
    assert result.error == f"cannot connect to 127.0.0.1:{port}: Connection refused"


def test_silence_times_out(loop: ProbeLoop) -> None:
    with raw_server(None) as port:
        started = time.monotonic()
        result = probe(loop, f"http://127.0.0.1:{port}/", timeout=0.5)
        waited = time.monotonic() - started
    assert result == ProbeResult(False, "no answer within 0.5 s")
    assert 0.4 < waited < 3.0


def test_headers_without_the_whole_body_are_judged_at_the_deadline(loop: ProbeLoop) -> None:
    with raw_server(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial") as port:
        assert probe(loop, f"http://127.0.0.1:{port}/", timeout=0.5) == ProbeResult(True)


def test_a_status_line_without_its_headers_is_no_answer(loop: ProbeLoop) -> None:
    with raw_server(b"HTTP/1.1 200 OK\r\n") as port:
        result = probe(loop, f"http://127.0.0.1:{port}/", timeout=0.5)
    assert result == ProbeResult(False, "no answer within 0.5 s")


def test_not_http_is_unhealthy(loop: ProbeLoop) -> None:
    with raw_server(b"SSH-2.0-OpenSSH\r\n\r\n") as port:
        result = probe(loop, f"http://127.0.0.1:{port}/", timeout=0.5)
    assert not result.ok and result.error.startswith("not an HTTP answer")


def test_only_http_and_https_urls() -> None:
    with pytest.raises(ValueError, match="only http:// and https://"):
        probe_request("ftp://127.0.0.1:1/", 1.0)


def test_unresolvable_host(loop: ProbeLoop) -> None:
    result = probe(loop, "http://no-such-host.invalid:80/")
    assert not result.ok and result.error.startswith("cannot resolve no-such-host.invalid")


def test_a_cancelled_probe_never_runs(loop: ProbeLoop) -> None:
    results: Queue[ProbeResult] = Queue()
    with http_server() as port:
        handle = loop.schedule(0.2, get(f"http://127.0.0.1:{port}/", 1.0), results.put)
        handle.cancel()
        loop.schedule(0.3, get(f"http://127.0.0.1:{port}/", 1.0), results.put)
        assert results.get(timeout=5).ok
        time.sleep(0.2)
        assert results.empty()


def test_delays_order_the_probes(loop: ProbeLoop) -> None:
    answered: Queue[str] = Queue()
    with http_server() as port:
        url = f"http://127.0.0.1:{port}/"
        loop.schedule(0.3, get(url, 1.0), lambda _: answered.put("late"))
        loop.schedule(0.0, get(url, 1.0), lambda _: answered.put("now"))
        loop.schedule(0.1, get(url, 1.0), lambda _: answered.put("soon"))
        assert [answered.get(timeout=5) for _ in range(3)] == ["now", "soon", "late"]


def test_many_probes_at_once_all_answer(loop: ProbeLoop) -> None:
    results: Queue[ProbeResult] = Queue()
    with http_server() as port:
        for _ in range(150):
            loop.schedule(0.0, get(f"http://127.0.0.1:{port}/", 5.0), results.put)
        answers = [results.get(timeout=20) for _ in range(150)]
    assert all(a.ok for a in answers), {a.error for a in answers if not a.ok}


def test_a_failing_callback_does_not_stop_the_loop(loop: ProbeLoop) -> None:
    def explode(_: ProbeResult) -> None:
        raise RuntimeError("callback bug")

    with http_server() as port:
        loop.schedule(0.0, get(f"http://127.0.0.1:{port}/", 1.0), explode)
        assert probe(loop, f"http://127.0.0.1:{port}/").ok
