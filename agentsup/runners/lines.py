"""Splitting an agent's output into lines, for every runner.

Output arrives in chunks of any size: pipe reads, container log frames. Lines end at
``\\n`` (one ``\\r`` before it is dropped), bytes are decoded only once a line is
complete so a character split across chunks survives, and a line longer than
`MAX_LINE_BYTES` is passed on in pieces so one runaway line cannot exhaust memory.
The pieces are cut between UTF-8 characters and numbered (`Line.part`, with
`continued` on all but the last), so a consumer can join them back into the line.
"""

from __future__ import annotations

from typing import NamedTuple

MAX_LINE_BYTES = 64 * 1024


class Line(NamedTuple):
    """One decoded line, or one piece of a line longer than the limit."""

    text: str
    part: int | None = None
    """1, 2, ... for the pieces of an over-long line; None for a whole line."""
    continued: bool = False
    """More pieces of the same line follow this one."""


def cut_point(data: bytes, limit: int) -> int:
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
        self._parts = 0
        """Pieces of the current line already passed on."""

    def feed(self, data: bytes) -> list[Line]:
        if not data:
            return []
        parts = (self._pending + data).split(b"\n")
        rest = parts.pop()
        lines: list[Line] = []
        for part in parts:
            self._emit(part[:-1] if part.endswith(b"\r") else part, lines)
        # One spare byte, so a "\r" whose "\n" has not arrived yet is not cut off as
        # the start of a piece of its own.
        while len(rest) > self._limit + 1:
            cut = cut_point(rest, self._limit)
            self._piece(rest[:cut], lines)
            rest = rest[cut:]
        self._pending = rest
        return lines

    def finish(self) -> list[Line]:
        """Flush a final line that had no newline."""
        rest, self._pending = self._pending, b""
        if rest.endswith(b"\r"):
            rest = rest[:-1]
        lines: list[Line] = []
        if rest or self._parts:
            self._emit(rest, lines)
        return lines

    def _piece(self, data: bytes, out: list[Line]) -> None:
        self._parts += 1
        out.append(Line(_decode(data), self._parts, True))

    def _emit(self, line: bytes, out: list[Line]) -> None:
        while len(line) > self._limit:
            cut = cut_point(line, self._limit)
            self._piece(line[:cut], out)
            line = line[cut:]
        if self._parts:
            out.append(Line(_decode(line), self._parts + 1, False))
            self._parts = 0
        else:
            out.append(Line(_decode(line)))
