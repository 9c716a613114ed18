"""What the job supervisor's logic answers with, and what it knows of each agent.

The effects (`Send`, `Emit`, `Finish`, ...) are carried out by the supervisor actor;
the records are the logic's own state, shared with its control-request and reload
steps.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from agentsup.messages import KillAgent, ReloadJob, RestartAgent, StartAgent, StopAgent
from agentsup.messages.control import Reply

Command = StartAgent | StopAgent | KillAgent | RestartAgent


@dataclass(frozen=True)
class Send:
    """Tell the actor of `agent_id` to carry out `command`."""

    agent_id: str
    command: Command


@dataclass(frozen=True)
class Emit:
    """Write one event; `fields` never include timestamp, level or job (the logger adds them)."""

    event: str
    fields: Mapping[str, Any] = field(default_factory=dict)
    level: str = "info"


@dataclass(frozen=True)
class Finish:
    """The job is over; the process exits with `exit_code`."""

    exit_code: int


@dataclass(frozen=True)
class After:
    """Deliver `message` back to the supervisor after `seconds` (a timer)."""

    seconds: float
    message: object


@dataclass(frozen=True)
class Respond:
    """Answer a control request: call `reply` with an HTTP status and a JSON body."""

    reply: Reply
    status: int
    body: Mapping[str, Any]


@dataclass(frozen=True)
class Replace:
    """Stop the actor of `agent_id`, if any, and put `make(agent_id)` in its place."""

    agent_id: str
    make: Callable[[str], Any]


@dataclass(frozen=True)
class Retire:
    """Stop the actor of `agent_id` and forget it: the agent left the job."""

    agent_id: str


Effect = Send | Emit | Finish | After | Respond | Replace | Retire


class AgentState(StrEnum):
    PENDING = "pending"
    STARTING = "starting"
    READY = "ready"
    UNHEALTHY = "unhealthy"
    RESTARTING = "restarting"
    EXITED = "exited"
    FAILED = "failed"
    STOPPING = "stopping"
    STOPPED = "stopped"


class JobPhase(StrEnum):
    IDLE = "idle"
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    FINISHED = "finished"


@dataclass
class AgentRecord:
    state: AgentState = AgentState.PENDING
    run: int = 0
    ever_started: bool = False
    pid: int | None = None
    host: str | None = None
    started_at: float | None = None
    restarts: int = 0
    health: str | None = None
    """The last health result: "ok" or the error of the check that failed."""


@dataclass
class ReloadUnderWay:
    """A reload under way: first its stops (callers first), then its starts (callees first)."""

    message: ReloadJob
    added: list[str]
    removed: list[str]
    changed: list[str]
    restarted: list[str]
    stop_queue: list[list[str]]
    stopping: set[str] = field(default_factory=set)
    to_start: list[str] = field(default_factory=list)
    starting: set[str] = field(default_factory=set)
    outcomes: dict[str, str] = field(default_factory=dict)


@dataclass
class Waiting:
    """A control request answered once each of `agents` has an outcome.

    `after_run[a]` is the run agent `a` had when asked: only a later run's readiness
    counts, so a report still on its way from the old process cannot answer.
    """

    reply: Reply
    agents: tuple[str, ...]
    success: str
    after_run: dict[str, int] = field(default_factory=dict)
    outcomes: dict[str, str] = field(default_factory=dict)
