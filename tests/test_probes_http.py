"""The HTTP exchange without sockets: plain answers read directly agree with h11 on every
answer, whole or in pieces; everything else is h11's to judge."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import h11
import pytest

from agentsup.probes.http import (
    Answer,
    Exchange,
    HttpError,
    card_name,
    host_header,
    judge_status,
)

ANSWERS = {
    "plain": b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    "plain 1.0": b"HTTP/1.0 503 Busy\r\nServer: x\r\nContent-Length: 4\r\n\r\nbusy",
    "no reason phrase": b"HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n",
    "bytes after the body": b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA",
    "same length twice": b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok",
    "chunked": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
    "chunked and a length": (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
                             b"Content-Length: 99\r\n\r\n2\r\nok\r\n0\r\n\r\n"),
    "interim 100": (b"HTTP/1.1 100 Continue\r\n\r\n"
                    b"HTTP/1.1 404 Not Found\r\nContent-Length: 1\r\n\r\nx"),
    "204": b"HTTP/1.1 204 No Content\r\n\r\n",
    "folded header": b"HTTP/1.1 200 OK\r\nX-A: 1\r\n  2\r\nContent-Length: 2\r\n\r\nok",
    "lower-case name": b"HTTP/1.1 302 Found\r\ncontent-length: 0\r\nlocation: /x\r\n\r\n",
}
"""Answers that end on their own; `closed` ones end when the connection closes."""

CLOSED = {
    "ended by closing": b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end",
    "cut short": b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
}

BROKEN = {
    "two different lengths": b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok",
    "not http": b"SSH-2.0-OpenSSH_9.2\r\n\r\n",
    "http/2 words": b"HTTP/2 200\r\ncontent-length: 0\r\n\r\n",
}


def reference(answer: bytes, *, closed: bool) -> tuple[int, bytes, bool]:
    """What h11 alone makes of the answer."""
    connection = h11.Connection(h11.CLIENT)
    connection.send(h11.Request(method="GET", target="/", headers=[("Host", "a")]))
    connection.send(h11.EndOfMessage())
    connection.receive_data(answer)
    if closed:
        connection.receive_data(b"")
    status, body = 0, b""
    while True:
        try:
            event = connection.next_event()
        except h11.RemoteProtocolError:
            return status, body, False
        if isinstance(event, h11.Response):
            status = event.status_code
        elif isinstance(event, h11.Data):
            body += bytes(event.data)
        elif isinstance(event, h11.EndOfMessage):
            return status, body, True
        elif event is h11.NEED_DATA or isinstance(event, h11.ConnectionClosed):
            return status, body, False


def exchange(answer: bytes, piece: int, *, closed: bool) -> Answer | None:
    probe = Exchange("a", 80, "/")
    probe.request()
    for start in range(0, len(answer), piece):
        result = probe.feed(answer[start:start + piece])
        if result is not None:
            return result
    return probe.feed(b"") if closed else probe.partial()


@pytest.mark.parametrize("piece", [1, 7, 10_000])
@pytest.mark.parametrize("name", sorted(ANSWERS))
def test_answers_agree_with_h11_in_any_pieces(name: str, piece: int) -> None:
    answer = exchange(ANSWERS[name], piece, closed=False)
    assert answer is not None
    assert (answer.status, answer.body, answer.complete) == reference(ANSWERS[name],
                                                                      closed=False)


@pytest.mark.parametrize("piece", [1, 10_000])
@pytest.mark.parametrize("name", sorted(CLOSED))
def test_answers_ended_by_closing(name: str, piece: int) -> None:
    answer = exchange(CLOSED[name], piece, closed=True)
    status, body, complete = reference(CLOSED[name], closed=True)
    assert answer is not None and (answer.status, answer.body) == (status, body)
    assert answer.complete is complete


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_broken_answers_are_errors(name: str) -> None:
    with pytest.raises(HttpError, match="not an HTTP answer"):
        exchange(BROKEN[name], 10_000, closed=True)


def test_closing_before_any_answer() -> None:
    with pytest.raises(HttpError, match="closed before an answer"):
        exchange(b"", 1, closed=True)


def test_the_request_asks_to_close_and_names_the_host() -> None:
    request = Exchange("::1", 8080, "/health?x=1").request()
    assert request.startswith(b"GET /health?x=1 HTTP/1.1\r\n")
    assert b"host: [::1]:8080\r\n" in request.lower()
    assert b"connection: close\r\n" in request.lower()


def test_judging() -> None:
    assert [judge_status(s) for s in (200, 302, 399, 400, 503)] == [
        None, None, None, "HTTP 400", "HTTP 503"]
    card = Answer(200, b'{"name": "n", "url": "http://x"}', True)
    assert card_name(card) == ("n", "")
    assert card_name(Answer(301, b"", True)) == (None, "HTTP 301")


@pytest.mark.parametrize("keep_alive", [False, True])
@pytest.mark.parametrize(("host", "port", "path"), [
    ("localhost", 80, "/health"), ("::1", 8080, "/ready?x=1&y=%20"),
    ("agent.example", 443, "/.well-known/agent-card.json"),
])
def test_the_request_is_what_h11_would_send(host: str, port: int, path: str,
                                            keep_alive: bool) -> None:
    from agentsup.probes.http import _get

    connection = h11.Connection(h11.CLIENT)
    expected = connection.send(_get(host_header(host, port), path, keep_alive)) or b""
    expected += connection.send(h11.EndOfMessage()) or b""
    assert Exchange(host, port, path, keep_alive=keep_alive).request() == expected


def test_a_path_a_request_cannot_carry_fails_the_probe_with_a_reason() -> None:
    with pytest.raises(HttpError, match="has characters a request cannot carry"):
        Exchange("localhost", 80, "/a b").request()
    with pytest.raises(h11.LocalProtocolError):  # h11 refuses it too
        h11.Connection(h11.CLIENT).send(h11.Request(method="GET", target="/a b",
                                                    headers=[("Host", "x")]))


LAZY = """\
import json, sys
from agentsup.actors.agent import AgentActor
from agentsup.probes.http import Exchange
exchange = Exchange("localhost", 80, "/health")
exchange.request()
plain = exchange.feed(b"HTTP/1.1 200 OK\\r\\nContent-Length: 2\\r\\n\\r\\nok")
before = "h11" in sys.modules
chunked = Exchange("localhost", 80, "/health")
answer = chunked.feed(b"HTTP/1.1 200 OK\\r\\nTransfer-Encoding: chunked\\r\\n\\r\\n"
                      b"2\\r\\nok\\r\\n0\\r\\n\\r\\n")
print(json.dumps([before, "h11" in sys.modules, plain.status, answer.body.decode()]))
"""


def test_h11_is_imported_only_for_an_answer_that_needs_it() -> None:
    done = subprocess.run([sys.executable, "-c", LAZY], capture_output=True, text=True,
                          timeout=60, check=True, cwd=Path(__file__).resolve().parent.parent)
    assert json.loads(done.stdout) == [False, True, 200, "ok"]
