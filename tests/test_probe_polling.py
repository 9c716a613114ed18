"""Polling probes (`ProbeLoop.schedule(polling=...)`, a booting agent's readiness)
against real loopback sockets: refused connects kept back until the agent listens,
the failure at the start deadline reported with its reason, `flush` handing over the
last kept-back reason, and a cancelled probe reporting nothing more."""

from __future__ import annotations

import queue
import socket
import threading
import time

import pytest

from agentsup.probes.loop import ProbeLoop, ProbeResult, probe_request
from agentsup.probes.polling import Polling

pytestmark = pytest.mark.timeout(60)

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"



def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve_from(port: int, delay: float) -> threading.Thread:
    """Listen on `port` after `delay` seconds and answer one request with 200; a test
    that cancels its probe first never connects, and the listener just gives up."""

    def run() -> None:
        time.sleep(delay)
        with socket.create_server(("127.0.0.1", port)) as listener:
            listener.settimeout(20)
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                return
            with conn:
                conn.recv(4096)
                conn.sendall(OK)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_refused_attempts_are_kept_back_until_the_agent_listens(loop: ProbeLoop) -> None:
    port = free_port()
    results: queue.Queue[ProbeResult] = queue.Queue()
    serve_from(port, 0.3)
    request = probe_request(f"http://127.0.0.1:{port}", 1.0, path="/health")
    handle = loop.schedule(0.0, request, results.put, polling=Polling(0.0, 30.0, 10.0))
    result = results.get(timeout=20)
    assert result.ok, result.error  # the first thing reported is the pass
    assert handle.last_error.startswith(f"cannot connect to 127.0.0.1:{port}")
    with pytest.raises(queue.Empty):
        results.get(timeout=0.3)  # and nothing after it


def test_the_failure_at_the_deadline_is_reported_once_with_its_reason(loop: ProbeLoop) -> None:
    port = free_port()  # nobody listens
    results: queue.Queue[ProbeResult] = queue.Queue()
    request = probe_request(f"http://127.0.0.1:{port}", 1.0, kind="tcp")
    started = time.monotonic()
    loop.schedule(0.0, request, results.put, polling=Polling(0.0, 0.5, 10.0))
    result = results.get(timeout=20)
    assert time.monotonic() - started >= 0.5  # not before the start deadline
    assert not result.ok and "Connection refused" in result.error
    assert result.error.startswith(f"cannot connect to 127.0.0.1:{port}")
    with pytest.raises(queue.Empty):
        results.get(timeout=0.3)


def test_a_flush_hands_over_the_last_reason_and_ends_the_polling(loop: ProbeLoop) -> None:
    port = free_port()
    results: queue.Queue[ProbeResult] = queue.Queue()
    request = probe_request(f"http://127.0.0.1:{port}", 1.0)
    handle = loop.schedule(0.0, request, results.put, polling=Polling(0.0, 30.0, 10.0))
    deadline = time.monotonic() + 20
    while not handle.last_error:  # written by the loop's thread; read here only to wait
        assert time.monotonic() < deadline
        time.sleep(0.01)
    flushed: queue.Queue[ProbeResult] = queue.Queue()
    loop.flush(handle, flushed.put)
    result = flushed.get(timeout=20)
    assert not result.ok and "Connection refused" in result.error
    serve_from(port, 0.0)  # listening now changes nothing: the probe has ended
    with pytest.raises(queue.Empty):
        results.get(timeout=0.5)
    assert flushed.empty()


def test_a_flush_before_any_attempt_failed_answers_with_no_reason(loop: ProbeLoop) -> None:
    port = free_port()
    results: queue.Queue[ProbeResult] = queue.Queue()
    request = probe_request(f"http://127.0.0.1:{port}", 1.0)
    handle = loop.schedule(5.0, request, results.put, polling=Polling(0.0, 30.0, 10.0))
    loop.flush(handle, results.put)
    assert results.get(timeout=20) == ProbeResult(False, "")
    with pytest.raises(queue.Empty):
        results.get(timeout=0.3)


def test_a_cancelled_polling_probe_reports_nothing(loop: ProbeLoop) -> None:
    port = free_port()
    results: queue.Queue[ProbeResult] = queue.Queue()
    request = probe_request(f"http://127.0.0.1:{port}", 1.0)
    handle = loop.schedule(0.0, request, results.put, polling=Polling(0.0, 0.4, 10.0))
    time.sleep(0.1)
    handle.cancel()
    with pytest.raises(queue.Empty):
        results.get(timeout=1.0)  # past the deadline, which would have reported
