"""The state of a job as people see it: every agent by stage, and where the job is.

`JobView` is fed the job's events one at a time and keeps a row per agent (state, pid,
host, URL, since when it runs, restarts, the last health result). It is a plain class
with no terminal and no threads, so the live view (`liveview`) draws it and tests drive
it with scripted events and a fake clock.

Some states are read off the order of events rather than an event of their own. An
ordered stop stops the stages in reverse start order, one stage at a time, and only
`agent.stopped` says when an agent is done: after `job.stopping` the running agents of
the last stage not yet stopped show `stopping`, and the next stage follows once that
one's agents have all stopped. A kill at once (a second signal, `shutdown_timeout`)
sends no `agent.stopped`: `job.stopped` with `killed: true` is the end of every agent
still running, which shows `killed`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import msgspec
from rich.cells import cell_len, set_cell_size
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from agentsup.eventtext import Palette, printable
from agentsup.signalnames import KILL_AT_ONCE
from agentsup.words import plural

STATE_STYLES = {
    "ready": "green", "starting": "yellow", "restarting": "yellow", "unhealthy": "red",
    "exited": "red", "failed": "bold red", "stopping": "yellow", "stopped": "dim",
    "pending": "dim", "killed": "red",
}
RUNNING = frozenset({"starting", "ready", "unhealthy", "restarting", "stopping"})
"""States of an agent whose process may still run."""
HEALTH_WIDTH = 40


class AgentRow(msgspec.Struct):
    agent: str
    stage: int
    state: str = "pending"
    pid: int | None = None
    host: str = ""
    url: str = ""
    since: float | None = None
    """Monotonic time the current process started; None while none runs."""
    restarts: int = 0
    health: str = ""


class Snapshot(msgspec.Struct):
    job: str
    phase: str
    stage: int
    stages: int
    rows: list[AgentRow]
    now: float
    ready_seconds: float | None = None
    started: float = 0.0
    killed: int = 0
    """How many agents were still running when everything was killed at once."""
    failure: str = ""
    """The reason of `job.failed`, once the job failed."""
    exit_code: int | None = None


class JobView(msgspec.Struct):
    """The job's state as the events tell it."""

    job: str
    clock: Callable[[], float] = time.monotonic
    rows: dict[str, AgentRow] = msgspec.field(default_factory=dict)
    phase: str = "loading"
    stage: int = 0
    stages: int = 0
    ready_seconds: float | None = None
    started: float = 0.0
    killed: int = 0
    kill_reason: str = ""
    failure: str = ""
    exit_code: int | None = None
    done: set[str] = msgspec.field(default_factory=set)
    """Agents with an `agent.stopped` since they last started."""

    def apply(self, event: Mapping[str, Any]) -> None:
        name = event.get("event")
        agent = str(event.get("agent", ""))
        row = self.rows.get(agent)
        now = self.clock()
        match name:
            case "job.loaded":
                self.started = now
            case "plan.resolved":
                stages = event.get("stages") or []
                urls = event.get("agent_urls") or {}
                self.stages = len(stages)
                for number, members in enumerate(stages, start=1):
                    for member in members:
                        self.rows[member] = AgentRow(member, number, url=urls.get(member, ""))
                self.phase = "starting"
            case "stage.started":
                self.stage = int(event.get("stage", 0))
            case "job.ready":
                self.phase = "running"
                seconds = event.get("seconds")
                self.ready_seconds = float(seconds) if seconds is not None else None
            case "job.stopping":
                if event.get("reason") in ("kill", "shutdown_timeout"):
                    self.phase = "killing"
                    signal = event.get("signal")
                    self.kill_reason = (
                        f"killed: {event.get('reason')}" if not signal
                        else f"killed: {signal}" if signal == KILL_AT_ONCE  # at the first
                        else f"killed: second {signal}")
                else:
                    self.phase = "stopping"
                    self._stop_next_stage()
            case "job.stopped":
                code = event.get("exit_code")
                self.exit_code = code if isinstance(code, int) else None
                # a failed job stays failed through its stop
                self.phase = "failed" if self.failure or self.exit_code else "stopped"
                if event.get("killed"):
                    self._killed()
            case "job.failed":
                self.failure = str(event.get("reason") or "failed")
                if self.phase in ("loading", "starting", "running"):
                    self.phase = "failed"
        if row is None:
            return
        match name:
            case "agent.starting":
                row.state = "starting"
            case "agent.started":
                row.state = "starting"
                self.done.discard(agent)
                row.pid = event.get("pid")
                row.host = str(event.get("host", ""))
                row.since = now
                row.health = ""
            case "agent.ready":
                row.state = "ready"
                row.url = str(event.get("url", row.url))
                row.health = "ok"
            case "agent.unhealthy":
                row.state = "unhealthy"
                row.health = str(event.get("error", "failing"))
            case "agent.exited":
                row.state = "exited"
                row.since = None
                if event.get("signal"):
                    row.health = f"killed by {event['signal']}"
                elif event.get("exit_code") is not None:
                    row.health = f"exit code {event['exit_code']}"
                else:
                    row.health = str(event.get("reason", ""))
            case "agent.restarting":
                row.state = "restarting"
                row.restarts += 1
            case "agent.failed":
                row.state = "failed"
                row.since = None
                # how its last process ended ("exit code 3") says more than the reason
                # cut to the column; without one the reason is what there is
                if not row.health or row.health == "ok":
                    row.health = str(event.get("reason", ""))
            case "agent.stopped":
                # A failed agent stays failed; an agent whose process had already ended
                # keeps how it ended; a running one is just stopped.
                if row.state not in ("failed", "exited"):
                    row.health = ""
                if row.state != "failed":
                    row.state = "stopped"
                row.since = None
                self.done.add(agent)
                if self.phase == "stopping":
                    self._stop_next_stage()

    def _stop_next_stage(self) -> None:
        """Show the running agents of the stage an ordered stop is at as `stopping`: the
        last stage (in start order) with an agent that ran and has not stopped yet."""
        waiting = [row for row in self.rows.values()
                   if row.state != "pending" and row.agent not in self.done]
        if not waiting:
            return
        last = max(row.stage for row in waiting)
        for row in waiting:
            if row.stage == last and row.state in RUNNING and row.state != "stopping":
                row.state = "stopping"
                row.health = ""

    def _killed(self) -> None:
        """Every agent still running was killed at once, with no `agent.stopped`."""
        for row in self.rows.values():
            if row.state in RUNNING and row.agent not in self.done:
                row.state = "killed"
                row.since = None
                row.health = self.kill_reason or "killed"
                self.killed += 1

    def snapshot(self) -> Snapshot:
        return Snapshot(
            self.job, self.phase, self.stage, self.stages,
            [msgspec.structs.replace(row) for row in self.rows.values()], self.clock(),
            self.ready_seconds, self.started, self.killed, self.failure, self.exit_code,
        )


def uptime(seconds: float) -> str:
    """`42s`, `3m07s`, `2h05m`: short, and stable in width while it counts."""
    whole = int(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"


def progress_text(snap: Snapshot, width: int | None = None) -> str:
    """The line over the table: where the job is, in a few words; in fewer when the
    sentence would not fit `width`, cut short with `…` when even those do not."""
    text = _progress(snap, short=False)
    if width is None or cell_len(text) <= width:
        return text
    text = _progress(snap, short=True)
    return text if cell_len(text) <= width else set_cell_size(text, width - 1).rstrip() + "…"


def _progress(snap: Snapshot, *, short: bool) -> str:
    total = len(snap.rows)
    ready = sum(1 for row in snap.rows if row.state == "ready")
    stopped = sum(1 for row in snap.rows if row.state in ("stopped", "failed", "pending"))
    killed = "" if not snap.killed else (
        f"; {snap.killed} killed" if short
        else f"; {plural(snap.killed, 'agent')} killed at once")
    failed = " failed," if snap.failure else ""
    up = uptime(snap.now - snap.started)
    match snap.phase:
        case "starting" if short:
            return (f"{snap.job}: stage {max(snap.stage, 1)}/{snap.stages} starting, "
                    f"{ready}/{total} ready")
        case "starting":
            return (f"{snap.job}: stage {max(snap.stage, 1)}/{snap.stages} starting: "
                    f"{ready} of {total} agents ready")
        case "running" if short:
            return f"{snap.job}: running, {ready}/{total} ready, up {up}; Ctrl-C stops"
        case "running":
            took = f", ready in {snap.ready_seconds:.2f} s" if snap.ready_seconds else ""
            return (f"{snap.job}: running, {ready} of {total} agents ready{took}, "
                    f"up {up}; Ctrl-C stops")
        case "stopping" if short:
            return f"{snap.job}:{failed} stopping, {stopped}/{total} stopped; Ctrl-C kills"
        case "stopping":
            return (f"{snap.job}:{failed} stopping: {stopped} of {total} agents stopped; "
                    "Ctrl-C again kills")
        case "killing":
            return f"{snap.job}: killing every agent"
        case "stopped":
            return f"{snap.job}: stopped{killed}"
        case "failed":
            code = f" (exit code {snap.exit_code})" if snap.exit_code is not None else ""
            why = f": {snap.failure}" if snap.failure else ""
            return f"{snap.job}: failed{code}{killed}{why}"
    return f"{snap.job}: loading"


COLUMNS = ("stage", "agent", "state", "pid", "host", "url", "uptime", "restarts", "health")
SHORT_HEADINGS = {"stage": "st", "uptime": "up", "restarts": "rst"}
RIGHT = frozenset({"pid", "uptime", "restarts"})
GAP = 2
"""Spaces between two columns (rich's padding of one on each side)."""
FLEX_MINIMUM = {"health": 16, "url": 12, "host": 8}
"""Columns that give way on a narrow terminal, and how far before the host goes."""
URL_LAST = 6
"""Narrower than this the URL column goes."""

_Cells = dict[str, tuple[str, str]]


def _width(column: str, heading: str, rows: list[_Cells]) -> int:
    return max([cell_len(heading), *(cell_len(row[column][0]) for row in rows)])


def _fit(rows: list[_Cells], width: int | None) -> tuple[list[str], dict[str, str],
                                                         dict[str, int]]:
    """The columns, their headings and the widths of those that give way, so the table
    fits `width`: every column as wide as its widest cell while that fits (wide
    terminals); otherwise, one step after the other until it fits, the host column goes
    when every host is in its agent's URL anyway, headings get short (`st`, `up`,
    `rst`), URLs lose `http://`, and then health, URL and host share what the
    columns that never give way (stage, agent, state, pid, uptime, restarts) leave,
    the health first, down to `FLEX_MINIMUM` (the host goes when even that does not
    fit; below that the URL shrinks, and goes at `URL_LAST`). Cells cut short end in
    `…` (URLs start with it: their ends hold the port); what still does not fit rich
    cuts from every column."""
    columns = list(COLUMNS)
    headings = {column: column for column in COLUMNS}

    def total() -> int:
        return (sum(_width(c, headings[c], rows) for c in columns)
                + GAP * (len(columns) - 1))

    if width is None or total() <= width:
        return columns, headings, {}
    if all(not row["host"][0] or row["host"][0] in row["url"][0] for row in rows):
        columns.remove("host")
    if total() > width:
        headings.update(SHORT_HEADINGS)
    if total() > width:
        for row in rows:
            url, style = row["url"]
            row["url"] = (url.removeprefix("http://"), style)
    if total() <= width:
        return columns, headings, {}
    flex: list[str] = [c for c in ("health", "url", "host") if c in columns]
    natural = {c: _width(c, headings[c], rows) for c in flex}
    room = width - GAP * (len(columns) - 1) - sum(
        _width(c, headings[c], rows) for c in columns if c not in flex)
    widths: dict[str, int] = {c: min(natural[c], FLEX_MINIMUM[c]) for c in flex}
    if "host" in widths and sum(widths.values()) > room:
        columns.remove("host")
        del widths["host"]
        room += GAP
    spare = room - sum(widths.values())
    for column in widths:  # health, url, host: in that order
        more = max(0, min(spare, natural[column] - widths[column]))
        widths[column] += more
        spare -= more
    if spare < 0 and "url" in widths:  # very narrow: the URL goes before any other
        if widths["url"] + spare >= URL_LAST:
            widths["url"] += spare
        else:
            columns.remove("url")
            del widths["url"]
    return columns, headings, widths


ATTENTION = ("failed", "unhealthy", "exited", "restarting", "starting", "stopping",
             "killed")
"""States that need a look, most urgent first: the rows a table too long for its
room keeps (`table`)."""
SUMMARY_ORDER = (*ATTENTION, "ready", "pending", "stopped")


def _picked(rows: list[AgentRow], room: int) -> set[int]:
    """The indexes of the `room` rows to show: those that need attention first
    (`ATTENTION`, most urgent first), then the rest in table order."""
    rank = {state: number for number, state in enumerate(ATTENTION)}
    order = sorted(range(len(rows)),
                   key=lambda i: (rank.get(rows[i].state, len(ATTENTION)), i))
    return set(order[:room])


def hidden_summary(hidden: list[AgentRow], width: int | None = None) -> Text:
    """The line under a table that could not show every agent: how many it left out,
    by state, those that need attention first (`+33 more: 2 starting, 31 ready`)."""
    counts: dict[str, int] = {}
    for row in hidden:
        counts[row.state] = counts.get(row.state, 0) + 1
    states = sorted(counts, key=lambda s: (SUMMARY_ORDER.index(s) if s in SUMMARY_ORDER
                                          else len(SUMMARY_ORDER), s))
    text = Text(f"+{len(hidden)} more: ", style="dim")
    for number, state in enumerate(states):
        if number:
            text.append(", ")
        text.append(f"{counts[state]} {printable(state)}", style=STATE_STYLES.get(state, ""))
    if width is not None and cell_len(text.plain) > width:
        text.truncate(max(width, 1), overflow="ellipsis")
    return text


def table(snap: Snapshot, palette: Palette, width: int | None = None,
          lines: int | None = None) -> RenderableType:
    """Every agent by stage; `width`: what the table must fit in (`_fit`), or None for
    every column as wide as its widest cell.

    `lines`: the most lines the table may take, its heading included, or None for no
    limit. A table with more agents than that shows the agents that need attention
    (`ATTENTION`: failed, unhealthy, restarting, starting, ...) first and as many
    others as there is room for, still by stage, and on its last line how many it left
    out, by state (`hidden_summary`). Columns are as wide as every agent needs, shown
    or not, so the table keeps its shape while rows come and go."""
    ordered = sorted(snap.rows, key=lambda r: r.stage)
    keep = set(range(len(ordered)))
    if lines is not None and 1 + len(ordered) > lines:
        keep = _picked(ordered, max(0, lines - 2))  # the heading, the line for the rest
    rows: list[_Cells] = []
    for row in ordered:
        health = printable(row.health)
        if len(health) > HEALTH_WIDTH:
            health = health[: HEALTH_WIDTH - 1] + "…"
        rows.append({
            "stage": (str(row.stage), ""),
            "agent": (printable(row.agent), palette.colour(row.agent)),
            "state": (printable(row.state), STATE_STYLES.get(row.state, "")),
            "pid": ("" if row.pid is None else str(row.pid), ""),
            "host": (printable(row.host), ""),
            "url": (printable(row.url), ""),
            "uptime": ("" if row.since is None else uptime(snap.now - row.since), ""),
            "restarts": (str(row.restarts), ""),
            "health": (health, "green" if health == "ok" else ("red" if health else "")),
        })
    columns, headings, widths = _fit(rows, width)
    if "url" in widths:  # cut from the left: the port says more than the scheme
        for cells in rows:
            url, style = cells["url"]
            if cell_len(url) > widths["url"]:
                cells["url"] = ("…" + url[len(url) - widths["url"] + 1:], style)
    hidden = [row for number, row in enumerate(ordered) if number not in keep]
    if hidden:  # every agent's width, not only the shown ones'
        widths = {c: widths.get(c, _width(c, headings[c], rows)) for c in columns}
    grid = Table(box=None, pad_edge=False, show_edge=False, header_style="bold")
    for column in columns:
        grid.add_column(headings[column], no_wrap=True, width=widths.get(column),
                        justify="right" if column in RIGHT else "left")
    stage = None
    for number, cells in enumerate(rows):
        if number not in keep:
            continue
        # the stage on the first row shown of each stage, a section between stages
        if ordered[number].stage != stage:
            if stage is not None:
                grid.add_section()
        else:
            cells["stage"] = ("", "")
        stage = ordered[number].stage
        # Text, not str: rich would read "[...]" in a cell as markup
        grid.add_row(*(Text(cells[c][0], style=cells[c][1]) for c in columns))
    if not hidden:
        return grid
    return Group(grid, hidden_summary(hidden, width))
