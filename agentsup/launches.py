"""An agent's launch as text to compare, made the first time a reload compares it.

A reload relaunches the agents whose launch changed, and tells them by comparing the
text of everything that shapes their process (`control.reload.launch_text`). Only a
reload compares; making that text for every agent as the job starts cost the main
thread about 45 ms at 200 agents, while it was still making the agents' actors and the
first agents were booting. The parts it is made from are immutable, so making it later
gives the same text.
"""

from __future__ import annotations

from collections.abc import Callable


class LaunchText:
    """Equal to another when their texts are; the text is made once, on first use."""

    __slots__ = ("_make", "_text")

    def __init__(self, make: Callable[[], str]) -> None:
        self._make: Callable[[], str] | None = make
        self._text = ""

    @classmethod
    def known(cls, text: str) -> LaunchText:
        """A launch whose text is at hand already."""
        return cls(lambda: text)

    @property
    def text(self) -> str:
        if self._make is not None:
            # Two threads may both make it; they make the same text.
            self._text = self._make()
            self._make = None
        return self._text

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LaunchText):
            return NotImplemented
        return self is other or self.text == other.text

    def __hash__(self) -> int:
        return hash(self.text)

    def __repr__(self) -> str:
        return f"LaunchText({self.text!r})"
