"""One HTTP/1.1 request and its answer, without I/O, and how an answer is judged.

The plain answer nearly every agent gives (a status, `Content-Length`, a short body) is
read here; any other is parsed by h11: it knows chunked bodies, answers that end when the
connection closes, and interim 1xx answers, which a hand-written reader judged only at
the deadline. h11 is imported the first time an answer needs it: its import, 15-30 ms
of `start` (docs/performance.md), is spared when no agent gives such an answer. The probe
loop moves the bytes.
"""

from __future__ import annotations

import functools
import json
import re
from typing import TYPE_CHECKING

import msgspec

if TYPE_CHECKING:
    import h11

MAX_BODY = 256 * 1024
"""Bytes of body kept at most; a health answer is judged by its status, a card is small."""

__all__ = ["MAX_BODY", "Answer", "Exchange", "HttpError", "card_name", "host_header",
           "judge_status"]


class HttpError(Exception):
    """The agent answered something that is not HTTP/1.x, or closed before answering."""


class Answer(msgspec.Struct, frozen=True):
    status: int
    body: bytes
    complete: bool
    """False when the body was cut at `MAX_BODY` or the deadline."""
    keep_alive: bool = False
    """The connection may carry another request: an HTTP/1.1 answer that does not say
    `Connection: close`, its body exactly `Content-Length` bytes, nothing after it."""


def host_header(host: str, port: int) -> str:
    """`Host` names an IPv6 literal in brackets (RFC 7230 section 5.4)."""
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"{host}:{port}"


_TARGET = re.compile(r"[\x21-\x7e]+")
"""What HTTP/1.1 (and h11) allows in a request target: visible ASCII, no spaces."""


def _headers(host: str, keep_alive: bool) -> list[tuple[str, str]]:
    """Without `keep_alive` the request asks the agent to close after answering."""
    headers = [("Host", host), ("User-Agent", "agentsup"), ("Accept", "*/*")]
    if not keep_alive:
        headers.append(("Connection", "close"))
    return headers


def _get(host: str, path: str, keep_alive: bool = False) -> h11.Request:
    """The request as h11 has it, for an answer that h11 reads."""
    import h11

    return h11.Request(method="GET", target=path, headers=_headers(host, keep_alive))


@functools.lru_cache(maxsize=1024)
def _request_bytes(host: str, path: str, keep_alive: bool = False) -> bytes:
    """The request of a probe, made once per host and path (liveness checks repeat the
    same request), byte for byte what h11 sends. Raises HttpError for a path or host
    that HTTP cannot carry."""
    if not _TARGET.fullmatch(path):
        raise HttpError(f"the path {path!r} has characters a request cannot carry")
    if not _TARGET.fullmatch(host):
        raise HttpError(f"the host {host!r} has characters a request cannot carry")
    lines = [f"GET {path} HTTP/1.1", *(f"{name}: {value}" for name, value
                                       in _headers(host, keep_alive))]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")


_STATUS_LINE = re.compile(rb"HTTP/1\.([01]) ([2-5][0-9][0-9])(?: [^\r\n]*)?")
_TOKEN_HEAD = re.compile(_STATUS_LINE.pattern + rb"(?:\r\n[-!#$%&'*+.^_`|~0-9A-Za-z]+:[^\r\n]*)*")
"""A status line and header lines whose names are all tokens: every such head passes the
line-by-line checks of `_head_fields`, so only the framing headers need a look."""
_FRAMING = re.compile(rb"\r\n(transfer-encoding|content-length|connection):([^\r\n]*)",
                      re.IGNORECASE)
_WAIT = "wait"
_NO = "no"

_Head = tuple[int, int | None, bool, bool]
"""Status, Content-Length, `Connection: close` (or HTTP/1.0), a Transfer-Encoding."""


def _framing(status: int, close: bool, fields: list[tuple[bytes, bytes]]) -> _Head | None:
    """What the framing headers say; None for a Content-Length that is not one number."""
    length: int | None = None
    chunked = False
    for name, value in fields:
        lowered = name.lower()
        if lowered == b"transfer-encoding":
            chunked = True
        elif lowered == b"content-length":
            digits = value.strip()
            if not digits.isdigit() or (length is not None and int(digits) != length):
                return None
            length = int(digits)
        elif lowered == b"connection" and b"close" in value.lower():
            close = True
    return status, length, close, chunked


def _head_fields(raw: bytearray, end: int) -> _Head | None:
    """The head read line by line, for one whose names are not all tokens (or with a
    lone CR or LF in a line); None when it is malformed or folded (h11 decides)."""
    lines = bytes(raw[:end]).split(b"\r\n")
    match = _STATUS_LINE.fullmatch(lines[0])
    if match is None:
        return None
    fields: list[tuple[bytes, bytes]] = []
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if not colon or not name or not name.isascii() or name != name.strip() \
                or b" " in name or b"\t" in name:
            return None
        fields.append((name, value))
    return _framing(int(match.group(2)), match.group(1) == b"0", fields)


def _plain_answer(raw: bytearray) -> Answer | str:
    """The answer when it is the plain kind, complete: a 2xx-5xx status, one
    `Content-Length`, no `Transfer-Encoding`, well-formed header lines, and that many
    bytes of body. `_WAIT` when it is that kind but not all in yet; `_NO` otherwise.

    Every check of every agent passes here, so the usual head (token names) is read by
    two regular expressions, which cost a fifth of reading it line by line."""
    end = raw.find(b"\r\n\r\n")
    if end < 0:
        return _WAIT if len(raw) < 8192 else _NO
    match = _TOKEN_HEAD.fullmatch(raw, 0, end)
    if match is not None:
        head = _framing(int(match.group(2)), match.group(1) == b"0",
                        _FRAMING.findall(raw, 0, end))
    else:
        head = _head_fields(raw, end)
    if head is None:
        return _NO
    status, length, close, chunked = head
    if status in (204, 304) or chunked:
        return _NO  # 204/304: no body whatever the headers say; h11 knows the rules
    if length is None or length > MAX_BODY:
        return _NO
    body = raw[end + 4:]
    if len(body) < length:
        return _WAIT
    return Answer(status, bytes(body[:length]), True, not close and len(body) == length)


class Exchange:
    """A GET of `path` on one connection, closed by us once the answer is in, unless
    the probe loop keeps it for the next run of a repeating probe (`keep_alive`: the
    request then does not ask the agent to close, and `Answer.keep_alive` says whether
    the agent left the connection usable).

    Nearly every health answer is the plain kind: a status, a `Content-Length`, a short
    body, all in one read. Those are read by `_plain_answer`, which accepts nothing
    else; every other answer (chunked, ended by closing, 1xx first, 204/304, anything
    unusual or malformed) is handed, with every byte read so far, to h11. h11 costs
    about 0.2 ms of CPU per check, which with hundreds of agents is a third of the
    supervisor's idle CPU (docs/performance.md).
    """

    def __init__(self, host: str, port: int, path: str, keep_alive: bool = False) -> None:
        self._connection: h11.Connection | None = None
        self.keep_alive = keep_alive
        self.received = 0
        """Bytes of the answer read so far."""
        self._raw: bytearray | None = bytearray()
        self._host = host_header(host, port)
        self.path = path
        self.status: int | None = None
        self._body = bytearray()

    def request(self) -> bytes:
        return _request_bytes(self._host, self.path, self.keep_alive)

    def feed(self, data: bytes) -> Answer | None:
        """Bytes from the agent (b"" at end of stream); the answer once it is complete."""
        self.received += len(data)
        raw = self._raw
        if raw is None:
            return self._feed_h11(data)
        raw += data
        if data:
            plain = _plain_answer(raw)
            if isinstance(plain, Answer):
                return plain
            if plain == _WAIT:
                return None
        # Not the plain kind, or the agent closed before it was all in: h11 takes over,
        # from the first byte.
        import h11

        self._raw = None
        connection = self._connection = h11.Connection(h11.CLIENT)
        connection.send(_get(self._host, self.path, self.keep_alive))
        connection.send(h11.EndOfMessage())
        answer = self._feed_h11(bytes(raw)) if raw else None
        if answer is None and not data:
            answer = self._feed_h11(b"")
        return answer

    def _feed_h11(self, data: bytes) -> Answer | None:
        import h11  # imported by `feed` already: a lookup

        connection = self._connection
        assert connection is not None
        try:
            connection.receive_data(data)
            while True:
                event = connection.next_event()
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
            if not data:
                raise HttpError("the connection closed before an answer") from None
            raise HttpError(f"not an HTTP answer: {exc}") from None

    def partial(self) -> Answer | None:
        """What has arrived so far, when the status line and headers have."""
        if self._raw is not None:
            # Still the plain kind: its headers are in once a status can be read.
            end = self._raw.find(b"\r\n\r\n")
            match = _STATUS_LINE.fullmatch(bytes(self._raw[:end]).split(b"\r\n")[0]) \
                if end >= 0 else None
            if match is None:
                return None
            return Answer(int(match.group(2)), bytes(self._raw[end + 4:]), False)
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
