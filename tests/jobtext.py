"""Positions inside job-file text, for asserting `FILE:LINE:COL` messages."""

from __future__ import annotations


def at(text: str, needle: str, occurrence: int = 1) -> str:
    """`LINE:COL` (1-based) of the n-th occurrence of `needle` in `text`."""
    index = -1
    for _ in range(occurrence):
        index = text.index(needle, index + 1)
    line = text.count("\n", 0, index) + 1
    column = index - (text.rfind("\n", 0, index) + 1) + 1
    return f"{line}:{column}"
