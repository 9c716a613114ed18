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
from rich.table import Table
from rich.text import Text

from agentsup.eventtext import Palette, printable

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
                    self.kill_reason = (f"killed: second {signal}" if signal else
                                        f"killed: {event.get('reason')}")
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


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def uptime(seconds: float) -> str:
    """`42s`, `3m07s`, `2h05m`: short, and stable in width while it counts."""
    whole = int(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"


def progress_text(snap: Snapshot) -> str:
    """The line over the table: where the job is, in a few words."""
    total = len(snap.rows)
    ready = sum(1 for row in snap.rows if row.state == "ready")
    stopped = sum(1 for row in snap.rows if row.state in ("stopped", "failed", "pending"))
    killed = f"; {_plural(snap.killed, 'agent')} killed at once" if snap.killed else ""
    match snap.phase:
        case "starting":
            return (f"{snap.job}: stage {max(snap.stage, 1)}/{snap.stages} starting: "
                    f"{ready} of {total} agents ready")
        case "running":
            took = f", ready in {snap.ready_seconds:.2f} s" if snap.ready_seconds else ""
            return (f"{snap.job}: running, {ready} of {total} agents ready{took}, "
                    f"up {uptime(snap.now - snap.started)}; Ctrl-C stops")
        case "stopping":
            failed = " failed," if snap.failure else ""
            return (f"{snap.job}:{failed} stopping: {stopped} of {total} agents stopped; "
                    "Ctrl-C again kills")
        case "killing":
            return f"{snap.job}: killing every agent"
        case "stopped":
            return f"{snap.job}: stopped{killed}"
        case "failed":
            code = f" (exit code {snap.exit_code})" if snap.exit_code is not None else ""
            why = f": {snap.failure}" if snap.failure else ""
            return f"{snap.job}: failed{code}{why}{killed}"
    return f"{snap.job}: loading"


def table(snap: Snapshot, palette: Palette) -> Table:
    grid = Table(box=None, pad_edge=False, show_edge=False, header_style="bold")
    for heading in ("stage", "agent", "state", "pid", "host", "url", "uptime", "restarts",
                    "health"):
        grid.add_column(heading, no_wrap=True,
                        justify="right" if heading in ("pid", "restarts", "uptime") else "left")
    stage = None
    for row in sorted(snap.rows, key=lambda r: r.stage):
        if stage is not None and row.stage != stage:
            grid.add_section()
        shown_stage = str(row.stage) if row.stage != stage else ""
        stage = row.stage
        health = printable(row.health)
        if len(health) > HEALTH_WIDTH:
            health = health[: HEALTH_WIDTH - 1] + "…"
        # Text, not str: rich would read "[...]" in a cell as markup
        grid.add_row(
            shown_stage,
            Text(printable(row.agent), style=palette.colour(row.agent)),
            Text(printable(row.state), style=STATE_STYLES.get(row.state, "")),
            "" if row.pid is None else str(row.pid),
            Text(printable(row.host)),
            Text(printable(row.url)),
            "" if row.since is None else uptime(snap.now - row.since),
            str(row.restarts),
            Text(health, style="green" if health == "ok" else ("red" if health else "")),
        )
    return grid
