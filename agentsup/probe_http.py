"""One HTTP/1.1 request and its answer, without I/O, and how an answer is judged.

The parsing is h11's: it knows chunked bodies, answers that end when the connection
closes, keep-alive answers that end at `Content-Length`, and interim 1xx answers, which
a hand-written reader judged only at the deadline. The probe loop moves the bytes.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass

import h11

MAX_BODY = 256 * 1024
"""Bytes of body kept at most; a health answer is judged by its status, a card is small."""

__all__ = ["MAX_BODY", "Answer", "Exchange", "HttpError", "card_name", "host_header",
           "judge_status"]


class HttpError(Exception):
    """The agent answered something that is not HTTP/1.x, or closed before answering."""


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    complete: bool
    """False when the body was cut at `MAX_BODY` or the deadline."""


def host_header(host: str, port: int) -> str:
    """`Host` names an IPv6 literal in brackets (RFC 7230 section 5.4)."""
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"{host}:{port}"


@functools.lru_cache(maxsize=1024)
def _get(host: str, path: str) -> h11.Request:
    """The request of a probe, built (and validated by h11) once per host and path:
    liveness checks repeat the same request, and building it is a fifth of h11's cost."""
    headers = [
        ("Host", host),
        ("User-Agent", "agentsup"),
        ("Accept", "*/*"),
        ("Connection", "close"),
    ]
    return h11.Request(method="GET", target=path, headers=headers)


class Exchange:
    """A GET of `path` on one connection, closed by us once the answer is in."""

    def __init__(self, host: str, port: int, path: str) -> None:
        self._connection = h11.Connection(h11.CLIENT)
        self._host = host_header(host, port)
        self.path = path
        self.status: int | None = None
        self._body = bytearray()

    def request(self) -> bytes:
        data = self._connection.send(_get(self._host, self.path))
        end = self._connection.send(h11.EndOfMessage())
        return (data or b"") + (end or b"")

    def feed(self, data: bytes) -> Answer | None:
        """Bytes from the agent (b"" at end of stream); the answer once it is complete."""
        try:
            self._connection.receive_data(data)
            while True:
                event = self._connection.next_event()
                if event is h11.NEED_DATA:
                    return None
                if isinstance(event, h11.Response):
                    self.status = event.status_code
                elif isinstance(event, h11.Data):
                    room = MAX_BODY - len(self._body)
                    self._body += bytes(event.data[:room])
                    if len(event.data) > room:
                        return self.partial()
                elif isinstance(event, h11.EndOfMessage):
                    return Answer(self._status(), bytes(self._body), True)
                elif isinstance(event, h11.ConnectionClosed):
                    return self._closed()
                # InformationalResponse (1xx): the real answer follows.
        except h11.RemoteProtocolError as exc:
            if self.status is not None:
                return self.partial()
            raise HttpError(f"not an HTTP answer: {exc}") from None

    def partial(self) -> Answer | None:
        """What has arrived so far, when the status line has."""
        if self.status is None:
            return None
        return Answer(self.status, bytes(self._body), False)

    def _closed(self) -> Answer:
        answer = self.partial()
        if answer is None:
            raise HttpError("the connection closed before an answer")
        return answer

    def _status(self) -> int:
        if self.status is None:  # pragma: no cover - h11 sends Response before the end
            raise HttpError("an answer without a status")
        return self.status


def judge_status(status: int) -> str | None:
    """None when healthy: 200-399, as Kubernetes counts it; else the reason."""
    if 200 <= status < 400:
        return None
    return f"HTTP {status}"


def card_name(answer: Answer) -> tuple[str | None, str]:
    """An A2A agent card's `name`, or None and why the answer is not a card."""
    if not 200 <= answer.status < 300:
        return None, f"HTTP {answer.status}"
    try:
        card = json.loads(answer.body)
    except ValueError:
        return None, "the agent card is not JSON" + ("" if answer.complete else " (cut off)")
    if not isinstance(card, dict):
        return None, "the agent card is not a JSON object"
    name, url = card.get("name"), card.get("url")
    if not isinstance(name, str) or not name or not isinstance(url, str) or not url:
        return None, "the agent card lacks 'name' or 'url'"
    return name, ""
