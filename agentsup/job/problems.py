"""Problems found in a job file, and how they are shown.

A problem carries a document path rather than a position, so that checks stay pure;
the loader attaches the position from the YAML it read.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

PathPart = str | int
DocPath = tuple[PathPart, ...]


def format_path(path: DocPath) -> str:
    """`('agents', 2, 'config', 'port')` -> `agents[2].config.port`."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text or "(document)"


class Problem(msgspec.Struct, frozen=True):
    """One thing wrong with a job file."""

    path: DocPath
    message: str
    on_key: bool = False
    """Point at the key rather than its value (unknown or repeated keys)."""


class Located(msgspec.Struct, frozen=True):
    """A problem with the file position it was found at (1-based line and column)."""

    file: str
    line: int
    column: int
    path: DocPath
    message: str

    def render(self) -> str:
        if self.line == 0:  # about the file as a whole (missing, unreadable): no position
            return f"{self.file}: {self.message}"
        return f"{self.file}:{self.line}:{self.column}: {format_path(self.path)}: {self.message}"


class JobFileError(Exception):
    """A job file that cannot be used; carries every problem found, in file order."""

    def __init__(self, problems: Sequence[Located]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(p.render() for p in self.problems))

    def render(self) -> str:
        return "\n".join(p.render() for p in self.problems)
