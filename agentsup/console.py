"""Events for people: `<time> <who> | <text>` lines, as honcho and foreman print them.

An agent's output appears under the agent's id; everything agentsup itself says appears
under `agentsup`, as a short sentence ("maps ready in 0.08 s") instead of a key=value
dump. The sentences, lines and colours come from `eventtext`, which the console lines
and the live view (`liveview`) share, with every character a terminal would act on
already replaced (`eventtext.printable`), so an agent's escape codes cannot move the
cursor or change the terminal. Colour (one per agent) only goes to a terminal, and not
with `NO_COLOR` or `TERM=dumb`, so a console log redirected into a file stays plain
text. `console_output` picks the format's renderer; it is the one place that imports
the live view, and nothing the live view imports comes back here.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, MutableMapping, Sequence
from typing import Any, TextIO

from agentsup.eventtext import LEVEL_STYLES, QUIET, Line, Palette, to_line

ANSI = {
    "cyan": "36", "magenta": "35", "green": "32", "yellow": "33", "blue": "34",
    "bright_red": "91", "bright_cyan": "96", "bright_magenta": "95", "bright_green": "92",
    "bright_blue": "94", "red": "31", "dim": "2", "bold": "1",
}
"""Terminal escape codes of the palette's colours (the live view lets rich draw them)."""


def _ansi(text: str, style: str) -> str:
    return f"\x1b[{ANSI[style]}m{text}\x1b[0m"


class ConsoleRenderer:
    """The last structlog processor of `--log-format console`: one readable line."""

    def __init__(self, colour: bool) -> None:
        self.colour = colour
        self.palette = Palette()

    def __call__(self, _: Any, __: str, event_dict: MutableMapping[str, Any]) -> Any:
        self.palette.learn(event_dict)
        if event_dict.get("event") in QUIET:
            # structlog (and rich with it) is imported by the console formats only.
            from structlog import DropEvent

            raise DropEvent
        return self.render(to_line(event_dict))

    def render(self, line: Line) -> str:
        style = self.palette.colour(line.who)
        who = line.who.ljust(self.palette.width)
        text = line.text
        if not self.colour:
            return f"{line.time} {who} | {text}"
        level_style = LEVEL_STYLES.get(line.level)
        if level_style is not None:
            text = _ansi(text, level_style)
        return f"{_ansi(line.time, 'dim')} {_ansi(who, style)} | {text}"


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def wants_colour(stream: TextIO, environ: Mapping[str, str] | None = None) -> bool:
    """Colour only on a terminal, and not when `NO_COLOR` is set (to anything but "")
    or `TERM` is `dumb` or `unknown`: what rich decides for the live view."""
    env = os.environ if environ is None else environ
    if env.get("NO_COLOR", "") != "":
        return False
    if env.get("TERM", "").lower() in ("dumb", "unknown"):
        return False
    return _is_terminal(stream)


def console_output(
    fmt: str, stream: TextIO, job: str, agents: Sequence[str] = (), min_level: int = logging.INFO
) -> tuple[Any, Any]:
    """The renderer, and the writer where it is not `EventLog`'s own line writer, for
    `console` or `live`; knowing the agents up front keeps the name column one width
    from the first line."""
    if fmt == "live":
        from agentsup.liveview import LiveView

        view = LiveView(stream, job, min_level)
        for agent in agents:
            view.palette.colour(agent)
        return view.render, view
    renderer = ConsoleRenderer(colour=wants_colour(stream))
    for agent in agents:
        renderer.palette.colour(agent)
    return renderer, None


def choose_format(requested: str | None, stream: TextIO, *, live: bool) -> str:
    """`auto` (or nothing): the live view (or console lines where a live view makes no
    sense) on a terminal, JSON for anything else."""
    if requested is not None and requested != "auto":
        return requested
    if not _is_terminal(stream):
        return "json"
    return "live" if live else "console"
