"""Splitting an agent's output into lines, for every runner.

Output arrives in chunks of any size: pipe reads, container log frames. Lines end at
``\n`` (one ``\r`` before it is dropped), bytes are decoded only once a line is
complete so a character split across chunks survives, and a line longer than
`MAX_LINE_BYTES` is passed on in pieces so one runaway line cannot exhaust memory.
"""

from __future__ import annotations

MAX_LINE_BYTES = 64 * 1024


def _cut_point(data: bytes, limit: int) -> int:
    """Where to split an over-long line without cutting a UTF-8 sequence in half."""
    cut = limit
    while cut > limit - 3 and data[cut] & 0xC0 == 0x80:
        cut -= 1
    # No lead byte within reach: the bytes are not valid UTF-8, any cut is as good.
    return cut if data[cut] & 0xC0 != 0x80 else limit


def _decode(line: bytes) -> str:
    return line.decode("utf-8", errors="replace")


class LineSplitter:
    """Turns the arbitrary chunks a pipe yields into decoded lines.

    Lines end at ``\\n``; one ``\\r`` before it is dropped. Bytes are only decoded once a
    line is complete, so multi-byte characters split across reads survive.
    """

    def __init__(self, limit: int = MAX_LINE_BYTES) -> None:
        if limit < 4:
            raise ValueError("limit must leave room for one UTF-8 character")
        self._limit = limit
        self._pending = b""

    def feed(self, data: bytes) -> list[str]:
        if not data:
            return []
        parts = (self._pending + data).split(b"\n")
        rest = parts.pop()
        lines: list[str] = []
        for part in parts:
            self._emit(part[:-1] if part.endswith(b"\r") else part, lines)
        # One spare byte, so a "\r" whose "\n" has not arrived yet is not cut off as
        # the start of a piece of its own.
        while len(rest) > self._limit + 1:
            cut = _cut_point(rest, self._limit)
            lines.append(_decode(rest[:cut]))
            rest = rest[cut:]
        self._pending = rest
        return lines

    def finish(self) -> list[str]:
        """Flush a final line that had no newline."""
        rest, self._pending = self._pending, b""
        if rest.endswith(b"\r"):
            rest = rest[:-1]
        lines: list[str] = []
        if rest:
            self._emit(rest, lines)
        return lines

    def _emit(self, line: bytes, out: list[str]) -> None:
        while len(line) > self._limit:
            cut = _cut_point(line, self._limit)
            out.append(_decode(line[:cut]))
            line = line[cut:]
        out.append(_decode(line))
