"""Each network probe kind against real servers on loopback: HTTP framings, TLS, A2A, TCP."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from queue import Queue

import pytest

from agentsup.probes import listeners as listening_table
from agentsup.probes import owners as listeners
from agentsup.probes.http import host_header
from agentsup.probes.loop import ProbeLoop, ProbeRequest, ProbeResult, probe_request
from agentsup.probes.owners import owned_by_tree
from tests.mountns import private_mounts_or_skip

pytestmark = pytest.mark.timeout(60)



def run(loop: ProbeLoop, request: ProbeRequest) -> ProbeResult:
    results: Queue[ProbeResult] = Queue()
    loop.schedule(0.0, request, results.put)
    return results.get(timeout=request.timeout + 10)


@contextmanager
def scripted(answer: bytes, *, close: bool, family: int = socket.AF_INET,
             host: str = "127.0.0.1") -> Iterator[tuple[int, Queue[bytes]]]:
    """A server that reads one request, records it, sends `answer`, and then closes the
    connection (`close`) or keeps it open as a keep-alive server would."""
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.bind((host, 0))
    listener.listen()
    requests: Queue[bytes] = Queue()
    held: list[socket.socket] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                data += chunk
            requests.put(data)
            conn.sendall(answer)
            if close:
                conn.close()
            else:
                held.append(conn)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1], requests
    finally:
        listener.close()
        for conn in held:
            conn.close()


CHUNKED = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
           b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")


def test_a_chunked_keep_alive_answer_is_judged_when_it_ends_not_at_the_deadline(
    loop: ProbeLoop,
) -> None:
    # The connection stays open: only the chunked framing says the answer is complete.
    # With a 30 s timeout, a probe that waited for the deadline would not answer within
    # the test's own timeout.
    with scripted(CHUNKED, close=False) as (port, _):
        result = run(loop, probe_request(f"http://127.0.0.1:{port}", 30.0, path="/health"))
    assert result == ProbeResult(True)


def test_a_keep_alive_error_with_a_length_is_judged_at_once(loop: ProbeLoop) -> None:
    answer = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\nbusy"
    with scripted(answer, close=False) as (port, _):
        result = run(loop, probe_request(f"http://127.0.0.1:{port}", 30.0, path="/health"))
    assert result == ProbeResult(False, "HTTP 503")


def test_an_answer_that_ends_when_the_connection_closes(loop: ProbeLoop) -> None:
    answer = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nno length, ends at close"
    with scripted(answer, close=True) as (port, requests):
        result = run(loop, probe_request(f"http://127.0.0.1:{port}", 30.0, path="/x"))
        request = requests.get(timeout=5)
    assert result == ProbeResult(True)
    assert request.startswith(b"GET /x HTTP/1.1\r\n")
    assert b"\r\nconnection: close\r\n" in request.lower()


@pytest.mark.parametrize(("status", "healthy"), [(200, True), (204, True), (301, True),
                                                 (399, True), (400, False), (404, False),
                                                 (500, False)])
def test_200_to_399_is_healthy(loop: ProbeLoop, status: int, healthy: bool) -> None:
    answer = f"HTTP/1.1 {status} X\r\nContent-Length: 0\r\n\r\n".encode()
    with scripted(answer, close=False) as (port, _):
        result = run(loop, probe_request(f"http://127.0.0.1:{port}", 5.0, path="/"))
    assert result.ok is healthy
    assert result.error == ("" if healthy else f"HTTP {status}")


def test_an_interim_100_answer_is_skipped(loop: ProbeLoop) -> None:
    answer = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n"
    with scripted(answer, close=False) as (port, _):
        result = run(loop, probe_request(f"http://127.0.0.1:{port}", 5.0, path="/"))
    assert result == ProbeResult(False, "HTTP 500")


def test_the_host_header_of_an_ipv6_literal_has_brackets(loop: ProbeLoop) -> None:
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
    with scripted(answer, close=True, family=socket.AF_INET6, host="::1") as (port, requests):
        result = run(loop, probe_request(f"http://[::1]:{port}", 5.0, path="/health"))
        request = requests.get(timeout=5)
    assert result.ok and result.peer == (socket.AF_INET6, "::1", port)
    assert f"\r\nhost: [::1]:{port}\r\n".encode() in request.lower()
    assert host_header("fe80::1", 80) == "[fe80::1]:80"
    assert host_header("localhost", 80) == "localhost:80"


def test_a_tcp_probe_only_connects(loop: ProbeLoop) -> None:
    with scripted(b"", close=False) as (port, requests):
        result = run(loop, probe_request(f"http://127.0.0.1:{port}", 5.0, kind="tcp"))
        assert result.ok and result.peer == (socket.AF_INET, "127.0.0.1", port)
        assert requests.get(timeout=5) == b""  # connected, sent nothing, closed
    with socket.socket() as bound:
        bound.bind(("127.0.0.1", 0))
        closed = bound.getsockname()[1]
        refused = run(loop, probe_request(f"http://127.0.0.1:{closed}", 5.0, kind="tcp"))
    assert refused == ProbeResult(False, f"cannot connect to 127.0.0.1:{closed}: "
                                  "Connection refused")


# ---------------------------------------------------------------------------- A2A


@contextmanager
def card_server(routes: dict[str, bytes]) -> Iterator[int]:
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = routes.get(self.path)
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


CARD = b'{"name": "Weather Agent", "url": "http://localhost:1/", "skills": []}'


def test_a2a_reads_the_current_card_location(loop: ProbeLoop) -> None:
    with card_server({"/.well-known/agent-card.json": CARD}) as port:
        result = run(loop, probe_request(f"http://127.0.0.1:{port}", 5.0, kind="a2a"))
    assert result.ok and result.name == "Weather Agent"


def test_a2a_falls_back_to_the_older_card_location(loop: ProbeLoop) -> None:
    with card_server({"/.well-known/agent.json": CARD}) as port:
        result = run(loop, probe_request(f"http://127.0.0.1:{port}", 5.0, kind="a2a"))
    assert result.ok and result.name == "Weather Agent"


@pytest.mark.parametrize(("body", "reason"), [
    (b"<html>", "the agent card is not JSON"),
    (b"[1, 2]", "the agent card is not a JSON object"),
    (b'{"name": "x"}', "the agent card lacks 'name' or 'url'"),
])
def test_a2a_needs_a_json_card_with_name_and_url(loop: ProbeLoop, body: bytes,
                                                 reason: str) -> None:
    with card_server({"/.well-known/agent-card.json": body}) as port:
        result = run(loop, probe_request(f"http://127.0.0.1:{port}", 5.0, kind="a2a"))
    assert result.error == (f"no agent card: /.well-known/agent-card.json: {reason}; "
                            "/.well-known/agent.json: HTTP 404")
    assert not result.ok


# ---------------------------------------------------------------------------- TLS


def make_cert(directory: Path, name: str) -> tuple[Path, Path]:
    """A self-signed certificate for `localhost` (and 127.0.0.1), made by openssl."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    cert, key = directory / f"{name}.crt", directory / f"{name}.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-keyout", str(key), "-out", str(cert), "-subj", f"/CN={name}",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True, capture_output=True,
    )
    return cert, key


@contextmanager
def tls_server(cert: Path, key: Path) -> Iterator[int]:
    """The probe agent itself, serving HTTPS."""
    with socket.socket() as spare:
        spare.bind(("127.0.0.1", 0))
        port = spare.getsockname()[1]
    agent = Path(__file__).parent / "agents" / "probeagent.py"
    process = subprocess.Popen(
        [sys.executable, str(agent)], stdout=subprocess.PIPE, text=True,
        env={"AGENT_PORT": str(port), "TLS_CERT": str(cert), "TLS_KEY": str(key),
             "PATH": "/usr/bin:/bin"},
    )
    try:
        assert process.stdout is not None
        while "listening" not in process.stdout.readline():
            pass
        yield port
    finally:
        process.kill()
        process.wait()


def test_https_without_a_ca_file_accepts_a_self_signed_certificate(
    loop: ProbeLoop, tmp_path: Path,
) -> None:
    cert, key = make_cert(tmp_path, "agent")
    with tls_server(cert, key) as port:
        result = run(loop, probe_request(f"http://localhost:{port}", 5.0, path="/health",
                                         scheme="https"))
        plain = run(loop, probe_request(f"http://localhost:{port}", 2.0, path="/health"))
    assert result == ProbeResult(True)
    assert not plain.ok  # the same agent spoken to without TLS does not pass


def test_https_with_a_ca_file_verifies_the_certificate(loop: ProbeLoop,
                                                       tmp_path: Path) -> None:
    cert, key = make_cert(tmp_path, "agent")
    other, _ = make_cert(tmp_path, "other")
    with tls_server(cert, key) as port:
        url = f"http://localhost:{port}"
        trusted = run(loop, probe_request(url, 5.0, path="/health", scheme="https",
                                          ca_file=str(cert)))
        untrusted = run(loop, probe_request(url, 5.0, path="/health", scheme="https",
                                            ca_file=str(other)))
    assert trusted == ProbeResult(True)
    assert not untrusted.ok
    assert untrusted.error.startswith("TLS: certificate verify failed"), untrusted.error


def test_https_to_an_agent_that_speaks_plain_http_fails_with_the_tls_reason(
    loop: ProbeLoop,
) -> None:
    # The agent answers the TLS greeting with a plain-text HTTP error: not a certificate
    # problem, so the reason is OpenSSL's own, and the probe fails at once, not at its
    # deadline.
    with card_server({}) as port:
        result = run(loop, probe_request(f"http://localhost:{port}", 5.0, path="/health",
                                         scheme="https"))
    assert not result.ok
    assert result.error.startswith("TLS: "), result.error
    assert "certificate" not in result.error


# ---------------------------------------------------------------------------- owners


@pytest.mark.parametrize("way", ["borrowed sockets", "netlink", "/proc/net/tcp"])
def test_a_listener_is_owned_by_the_process_tree_that_holds_it(
    way: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    if way != "borrowed sockets":  # as where pidfd_getfd is missing: no such system call
        monkeypatch.setattr(listeners, "SYS_PIDFD_GETFD", 100000)
    if way == "/proc/net/tcp":  # and netlink refused: no such protocol
        monkeypatch.setattr(listening_table, "NETLINK_SOCK_DIAG", 1000)
    with socket.socket() as mine:
        mine.bind(("127.0.0.1", 0))
        mine.listen()
        port = mine.getsockname()[1]
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"],
                                 start_new_session=True)
        try:
            assert owned_by_tree(child.pid, socket.AF_INET, "127.0.0.1", port) is False
            assert owned_by_tree(os.getpid(), socket.AF_INET, "127.0.0.1", port) is True
        finally:
            child.kill()
            child.wait()


def test_the_table_of_listening_sockets_names_each_listener_on_a_port() -> None:
    with socket.socket() as four, socket.socket(socket.AF_INET6) as six, socket.socket() as other:
        four.bind(("127.0.0.1", 0))
        four.listen()
        port = four.getsockname()[1]
        six.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        try:
            six.bind(("::1", port))
        except OSError:  # no IPv6 loopback here: the IPv4 one alone
            six.close()
        else:
            six.listen()
        other.bind(("127.0.0.1", 0))
        other.listen()
        found = listening_table.listening_on(port)
        assert found is not None
        wanted = {(socket.AF_INET, "127.0.0.1", os.fstat(four.fileno()).st_ino)}
        if six.fileno() >= 0:
            wanted.add((socket.AF_INET6, "::1", os.fstat(six.fileno()).st_ino))
        assert set(found) == wanted


# ---------------------------------------------------------------------------- DNS

SLOW_DNS_SCRIPT = """
import sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from queue import Queue
from agentsup.probes.loop import ProbeLoop, probe_request

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *args):
        pass

server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
threading.Thread(target=server.serve_forever, daemon=True).start()
loop = ProbeLoop()
answers = Queue()
loop.schedule(0.0, probe_request("http://agent.slow-dns.test:80", 3.0),
              lambda r: answers.put(("name", r.ok, r.error)))
loop.schedule(0.05, probe_request(f"http://127.0.0.1:{server.server_address[1]}", 3.0),
              lambda r: answers.put(("literal", r.ok, r.error)))
for _ in range(2):
    print(answers.get(timeout=30), flush=True)
"""


def test_a_slow_name_lookup_does_not_hold_up_other_probes(tmp_path: Path) -> None:
    """The resolver is a UDP socket that never answers (a private mount namespace binds
    a resolv.conf naming it): the lookup hangs, the probe of an address does not."""
    private_mounts_or_skip()
    blackhole = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        blackhole.bind(("127.0.0.77", 53))
    except OSError as exc:
        blackhole.close()
        pytest.skip(f"cannot bind a DNS port to stand in for a slow server: {exc}")
    resolv = tmp_path / "resolv.conf"
    resolv.write_text("nameserver 127.0.0.77\noptions timeout:6 attempts:1\n")
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 localhost\n")
    script = tmp_path / "slow_dns.py"
    script.write_text(SLOW_DNS_SCRIPT)
    inner = (f"mount --bind {resolv} /etc/resolv.conf && mount --bind {hosts} /etc/hosts "
             f"&& exec {sys.executable} {script}")
    try:
        done = subprocess.run(["unshare", "-m", "sh", "-c", inner], capture_output=True,
                              text=True, timeout=60, env=dict(os.environ), check=False)
    finally:
        blackhole.close()
    assert done.returncode == 0, done.stderr
    first, second = done.stdout.splitlines()
    assert first == "('literal', True, '')"
    assert second == ("('name', False, 'cannot resolve agent.slow-dns.test: "
                      "no answer within 3 s')")
