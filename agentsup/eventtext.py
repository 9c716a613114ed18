"""Events as people read them: one sentence per event, one line per sentence.

`describe` turns an event into a short sentence ("maps ready in 0.08 s") instead of a
key=value dump; `to_line` makes it a `Line` said by an agent (its output, in its own
words) or by `agentsup`; `Palette` gives every agent a colour of its own. All of it is
pure, and shared by the two ways agentsup draws events for a person: console lines
(`console`) and the live view (`liveview`, with its table in `jobview`). Neither view
is imported here, so both can import this without importing each other.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import msgspec

from agentsup.words import plural

SUPERVISOR = "agentsup"
AGENT_COLOURS = ("cyan", "magenta", "green", "yellow", "blue", "bright_red",
                 "bright_cyan", "bright_magenta", "bright_green", "bright_blue")
LEVEL_STYLES = {"warning": "yellow", "error": "red"}
SKIPPED = ("timestamp", "level", "event", "job", "agent", "elapsed")
QUIET = frozenset({"agent.starting"})
"""Events people need not read: the `stage.started` line before them says the same."""
REPLACEMENT = "\ufffd"
_UNSAFE = dict.fromkeys(
    [*range(0x00, 0x09), *range(0x0A, 0x20), *range(0x7F, 0xA0),  # C0 but tab, DEL, C1
     *range(0x202A, 0x202F), *range(0x2066, 0x206A)],  # bidi embeddings, overrides, isolates
    REPLACEMENT,
)


def printable(text: str) -> str:
    """`text` with every character a terminal would act on shown as `\ufffd` instead.

    C0 controls (all but tab: escape, carriage return, backspace, newline...), DEL and
    the C1 controls U+0080-U+009F (U+009B is CSI, U+009D OSC, U+0085 NEL: terminals
    that read UTF-8 obey them like their ESC forms) would let an agent's output clear
    the screen, move the cursor, set the window title or switch to the alternate
    screen. The bidi embeddings, overrides and isolates (U+202A-U+202E,
    U+2066-U+2069) would let it reorder the rest of the line as shown. The bidi marks
    (U+200E, U+200F, U+061C), which right-to-left text needs and which reorder
    nothing by themselves, stay.
    """
    return text.translate(_UNSAFE)


class Line(msgspec.Struct, frozen=True):
    """One line for a person: who says it, what, and how loud; `who` and `text` hold no
    character a terminal acts on (`printable`)."""

    time: str
    who: str
    text: str
    level: str
    is_output: bool


def compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def _seconds(value: Any) -> str:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    return f"{number:.2f} s" if number < 10 else f"{number:.1f} s"


def _rest(event: Mapping[str, Any], used: tuple[str, ...]) -> str:
    extra = {k: v for k, v in event.items() if k not in SKIPPED and k not in used}
    return " ".join(f"{k}={v if isinstance(v, str) else compact(v)}" for k, v in extra.items())


def describe(event: Mapping[str, Any]) -> str:
    """A short sentence for one event; unknown events fall back to `name key=value`."""
    name = str(event.get("event", ""))
    agent = str(event.get("agent", ""))
    get = event.get
    match name:
        case "job.loaded":
            return (f"job {get('job')}: {plural(get('agents'), 'agent')}, "
                    f"{get('topology')} topology ({get('file')})")
        case "plan.resolved":
            stages = get("stages") or []
            parts = [", ".join(stage) for stage in stages]
            return f"plan: {plural(len(stages), 'stage')}: " + " | ".join(parts)
        case "stage.started":
            return f"stage {get('stage')}: starting {', '.join(get('agents') or [])}"
        case "agent.started":
            return f"{agent} started: pid {get('pid')} on {get('host')}"
        case "agent.ready":
            return f"{agent} ready in {_seconds(get('seconds'))} at {get('url')}"
        case "stage.ready":
            return f"stage {get('stage')} ready"
        case "job.ready":
            return (f"job ready: {plural(get('agents'), 'agent')} in "
                    f"{plural(get('stages'), 'stage')}, {_seconds(get('seconds'))}")
        case "agent.unhealthy":
            return (f"{agent} unhealthy after {plural(get('failures'), 'failed check')}: "
                    f"{get('error')}")
        case "agent.exited":
            if get("signal") is not None:
                return f"{agent} was killed by {get('signal')}"
            if get("exit_code") is not None:
                return f"{agent} exited with code {get('exit_code')}"
            return f"{agent} is gone: {get('reason')}"
        case "agent.restarting":
            because = f" because {get('because')}" if get("because") else ""
            if get("reason"):  # a caller following a peer to its new URL
                because = f" because {get('reason')}"
            return (f"{agent} restarting in {_seconds(get('delay'))} "
                    f"(attempt {get('attempt')}){because}")
        case "agent.failed":
            return f"{agent} failed: {get('reason')}"
        case "job.failed":
            return f"job failed: {get('reason')}"
        case "job.stopping":
            signal = f" ({get('signal')})" if get("signal") else ""
            if get("reason") == "kill":
                return f"killing every agent now{signal}"
            if get("reason") == "signal":
                return f"stopping{signal}; press Ctrl-C again to kill at once"
            return "stopping after a failure"
        case "agent.stopped":
            how = f" ({get('signal')})" if get("signal") else (
                f" (exit code {get('exit_code')})" if get("exit_code") is not None else "")
            return f"{agent} stopped{how}"
        case "job.stopped":
            killed = ", agents killed" if get("killed") else ""
            return f"job stopped, exit code {get('exit_code')}{killed}"
        case "job.health":
            counts = get("counts") or {}
            return "health: " + ", ".join(f"{n} {state}" for state, n in counts.items())
        case "log":
            text = f"{get('logger')}: {get('message')}"
            if get("exception"):
                text += "\n" + str(get("exception"))
            return text
    rest = _rest(event, ())
    subject = f"{agent} " if agent else ""
    return f"{subject}{name} {rest}".rstrip() if rest else f"{subject}{name}"


def local_time(timestamp: Any) -> str:
    """`HH:MM:SS` in local time from the event's UTC timestamp (now when absent)."""
    if isinstance(timestamp, str):
        shown = _local_time(timestamp)
        if shown is not None:
            return shown
    return datetime.now().strftime("%H:%M:%S")


@functools.lru_cache(maxsize=8)
def _local_time(timestamp: str) -> str | None:
    """Timestamps have whole seconds, so a burst of lines shares one conversion."""
    try:
        return datetime.fromisoformat(timestamp).astimezone().strftime("%H:%M:%S")
    except ValueError:
        return None


def to_line(event: Mapping[str, Any]) -> Line:
    """An event as a person reads it, safe to print on a terminal (`printable`): agent
    output keeps its own words, JSON payloads included."""
    level = str(event.get("level", "info"))
    when = local_time(event.get("timestamp"))
    if event.get("event") == "agent.output":
        payload = event.get("payload")
        text = compact(payload) if "payload" in event else str(event.get("line", ""))
        return Line(when, printable(str(event.get("agent", ""))), printable(text), level, True)
    return Line(when, SUPERVISOR, printable(describe(event)), level, False)


class Palette:
    """A colour per agent, in the order agents first show up; stable for a run."""

    def __init__(self) -> None:
        self._colours: dict[str, str] = {}
        self.width = len(SUPERVISOR)

    def learn(self, event: Mapping[str, Any]) -> None:
        """The plan names every agent: fix colours and the name column's width early."""
        if event.get("event") == "plan.resolved":
            for stage in event.get("stages") or []:
                for agent in stage:
                    self.colour(str(agent))

    def colour(self, who: str) -> str:
        if who == SUPERVISOR:
            return "bold"
        if who not in self._colours:
            self._colours[who] = AGENT_COLOURS[len(self._colours) % len(AGENT_COLOURS)]
            self.width = max(self.width, len(who))
        return self._colours[who]
