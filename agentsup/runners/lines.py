"""Splitting an agent's output into lines, for every runner.

Output arrives in chunks of any size: pipe reads, container log frames. Lines end at
``\\n`` (one ``\\r`` before it is dropped), bytes are decoded only once a line is
complete so a character split across chunks survives, and a line longer than
`MAX_LINE_BYTES` is passed on in pieces so one runaway line cannot exhaust memory.
The pieces are cut between UTF-8 characters and numbered (`Line.part`, with
`continued` on all but the last), so a consumer can join them back into the line.

A chunk's lines travel on together as one `LineBatch`: a fast agent fills a pipe read
with thousands of lines, and everything downstream (the `agentsup logs` ring, the log
files, the event stream) does its per-call work once per read rather than once per line.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

MAX_LINE_BYTES = 64 * 1024


class Line(NamedTuple):
    """One decoded line, or one piece of a line longer than the limit."""

    text: str
    part: int | None = None
    """1, 2, ... for the pieces of an over-long line; None for a whole line."""
    continued: bool = False
    """More pieces of the same line follow this one."""


class LineBatch:
    """The lines of one chunk of output, in order.

    Whole lines are plain strings in `texts`; the few that are pieces of an over-long
    line have their `(part, continued)` in `pieces`, under their index in `texts`. So the
    common batch is a list of strings straight from `str.split`, with no object per line.
    """

    __slots__ = ("pieces", "texts")

    def __init__(
        self, texts: list[str] | None = None, pieces: dict[int, tuple[int, bool]] | None = None
    ) -> None:
        self.texts: list[str] = texts if texts is not None else []
        self.pieces: dict[int, tuple[int, bool]] = pieces if pieces is not None else {}

    @classmethod
    def of(cls, line: str, part: int | None = None, continued: bool = False) -> LineBatch:
        """A batch of one line (or one piece), for callers that have a single line."""
        return cls([line], {0: (part, continued)} if part is not None else None)

    def add(self, text: str, part: int | None = None, continued: bool = False) -> None:
        if part is not None:
            self.pieces[len(self.texts)] = (part, continued)
        self.texts.append(text)

    def __len__(self) -> int:
        return len(self.texts)

    def __iter__(self) -> Iterator[Line]:
        pieces = self.pieces
        if not pieces:
            for text in self.texts:
                yield Line(text)
            return
        for index, text in enumerate(self.texts):
            piece = pieces.get(index)
            yield Line(text) if piece is None else Line(text, piece[0], piece[1])

    def __repr__(self) -> str:
        return f"LineBatch({self.texts!r}, {self.pieces!r})"


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

    The complete lines of a chunk are decoded in one call and split as text: ``\\n`` and
    ``\\r`` are never part of a multi-byte sequence, and the decoder replaces a broken
    sequence before a ``\\n`` exactly as it would at the end of that line on its own,
    so the result is the same as decoding line by line. Only a chunk that holds a line
    over the limit, or that ends a line already passed on in pieces, goes line by line.
    """

    def __init__(self, limit: int = MAX_LINE_BYTES) -> None:
        if limit < 4:
            raise ValueError("limit must leave room for one UTF-8 character")
        self._limit = limit
        self._pending = b""
        self._parts = 0
        """Pieces of the current line already passed on."""

    def feed(self, data: bytes) -> list[Line]:
        return list(self.feed_batch(data))

    def finish(self) -> list[Line]:
        """Flush a final line that had no newline."""
        return list(self.finish_batch())

    def feed_batch(self, data: bytes) -> LineBatch:
        """The lines `data` completes, with the pieces of an over-long line so far."""
        batch = LineBatch()
        if not data:
            return batch
        data = self._pending + data if self._pending else data
        end = data.rfind(b"\n")
        if end >= 0:
            complete, rest = data[:end], data[end + 1:]
            if not self._parts and (
                end <= self._limit or max(map(len, complete.split(b"\n"))) <= self._limit
            ):
                text = _decode(complete)
                texts = text.split("\n")
                if "\r" in text:
                    texts = [line[:-1] if line.endswith("\r") else line for line in texts]
                batch.texts = texts
            else:
                for part in complete.split(b"\n"):
                    self._emit(part[:-1] if part.endswith(b"\r") else part, batch)
        else:
            rest = data
        # One spare byte, so a "\r" whose "\n" has not arrived yet is not cut off as
        # the start of a piece of its own.
        while len(rest) > self._limit + 1:
            cut = cut_point(rest, self._limit)
            self._piece(rest[:cut], batch)
            rest = rest[cut:]
        self._pending = rest
        return batch

    def finish_batch(self) -> LineBatch:
        """Flush a final line that had no newline."""
        rest, self._pending = self._pending, b""
        if rest.endswith(b"\r"):
            rest = rest[:-1]
        batch = LineBatch()
        if rest or self._parts:
            self._emit(rest, batch)
        return batch

    def _piece(self, data: bytes, out: LineBatch) -> None:
        self._parts += 1
        out.add(_decode(data), self._parts, True)

    def _emit(self, line: bytes, out: LineBatch) -> None:
        while len(line) > self._limit:
            cut = cut_point(line, self._limit)
            self._piece(line[:cut], out)
            line = line[cut:]
        if self._parts:
            out.add(_decode(line), self._parts + 1, False)
            self._parts = 0
        else:
            out.texts.append(_decode(line))
