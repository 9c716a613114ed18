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

SUPERVISOR = "agentsup"
AGENT_COLOURS = ("cyan", "magenta", "green", "yellow", "blue", "bright_red",
                 "bright_cyan", "bright_magenta", "bright_green", "bright_blue")
LEVEL_STYLES = {"warning": "yellow", "error": "red"}
SKIPPED = ("timestamp", "level", "event", "job", "agent", "elapsed")
QUIET = frozenset({"agent.starting"})
"""Events people need not read: the `stage.started` line before them says the same."""


class Line(msgspec.Struct, frozen=True):
    """One line for a person: who says it, what, and how loud."""

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


def _plural(count: Any, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


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
            return (f"job {get('job')}: {_plural(get('agents'), 'agent')}, "
                    f"{get('topology')} topology ({get('file')})")
        case "plan.resolved":
            stages = get("stages") or []
            parts = [", ".join(stage) for stage in stages]
            return f"plan: {_plural(len(stages), 'stage')}: " + " | ".join(parts)
        case "stage.started":
            return f"stage {get('stage')}: starting {', '.join(get('agents') or [])}"
        case "agent.started":
            return f"{agent} started: pid {get('pid')} on {get('host')}"
        case "agent.ready":
            return f"{agent} ready in {_seconds(get('seconds'))} at {get('url')}"
        case "stage.ready":
            return f"stage {get('stage')} ready"
        case "job.ready":
            return (f"job ready: {_plural(get('agents'), 'agent')} in "
                    f"{_plural(get('stages'), 'stage')}, {_seconds(get('seconds'))}")
        case "agent.unhealthy":
            return (f"{agent} unhealthy after {_plural(get('failures'), 'failed check')}: "
                    f"{get('error')}")
        case "agent.exited":
            if get("signal") is not None:
                return f"{agent} was killed by {get('signal')}"
            if get("exit_code") is not None:
                return f"{agent} exited with code {get('exit_code')}"
            return f"{agent} is gone: {get('reason')}"
        case "agent.restarting":
            because = f" because {get('because')}" if get("because") else ""
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
    """An event as a person reads it; agent output keeps its own words."""
    level = str(event.get("level", "info"))
    when = local_time(event.get("timestamp"))
    if event.get("event") == "agent.output":
        payload = event.get("payload")
        text = compact(payload) if "payload" in event else str(event.get("line", ""))
        return Line(when, str(event.get("agent", "")), text, level, True)
    return Line(when, SUPERVISOR, describe(event), level, False)


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
