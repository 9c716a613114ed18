"""What the job supervisor's logic answers with, and what it knows of the job.

The effects (`Send`, `Emit`, `Finish`, ...) are carried out by the supervisor actor.
`JobState` is everything the logic knows (phase, stage, each agent's record, restart
budgets, the stops under way, the requests waiting for an answer); the logic and its
collaborators (`control_requests`, `reload_steps`, `shutdown_steps`) share one. They
import this module rather than the logic, so none of them imports the logic back.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import Any

import msgspec

from agentsup.exitcodes import EXIT_OK
from agentsup.launches import LaunchText
from agentsup.messages import KillAgent, ReloadJob, RestartAgent, StartAgent, StopAgent
from agentsup.messages.control import Reply
from agentsup.plan import DeploymentPlan
from agentsup.restart import FailureAction, RestartBudget, RestartPolicy

Command = StartAgent | StopAgent | KillAgent | RestartAgent


class Send(msgspec.Struct, frozen=True):
    """Tell the actor of `agent_id` to carry out `command`."""

    agent_id: str
    command: Command


class Emit(msgspec.Struct, frozen=True):
    """Write one event; `fields` never include timestamp, level or job (the logger adds them)."""

    event: str
    fields: Mapping[str, Any] = msgspec.field(default_factory=dict)
    level: str = "info"


class Finish(msgspec.Struct, frozen=True):
    """The job is over; the process exits with `exit_code`."""

    exit_code: int


class After(msgspec.Struct, frozen=True):
    """Deliver `message` back to the supervisor after `seconds` (a timer)."""

    seconds: float
    message: object


class Respond(msgspec.Struct, frozen=True):
    """Answer a control request: call `reply` with an HTTP status and a JSON body."""

    reply: Reply
    status: int
    body: Mapping[str, Any]


class Replace(msgspec.Struct, frozen=True):
    """Stop the actor of `agent_id`, if any, and put `make(agent_id, runs)` in its place:
    `runs` launches so far, so that the new actor's run numbers go on from there."""

    agent_id: str
    make: Callable[[str, int], Any]
    runs: int = 0


class Retire(msgspec.Struct, frozen=True):
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


class AgentRecord(msgspec.Struct):
    state: AgentState = AgentState.PENDING
    run: int = 0
    """How many times it has been launched (the run of its latest launch)."""
    first_run: int = 1
    """The first run of its current actor (a reload's replacement goes on counting):
    that run failing to start is the agent's failure, a later one a restart's."""
    url: str | None = None
    """The URL it was last ready at, as its actor probes it (a swarm agent's is known
    only once its task runs); None until then and once a reload changed it."""
    last_url: str | None = None
    """The URL it was last ready at, kept across reloads: a caller outside the swarm was
    given a swarm agent's URL as it was at the caller's launch (`url_changes`)."""
    ever_started: bool = False
    pid: int | None = None
    host: str | None = None
    started_at: float | None = None
    restarts: int = 0
    health: str | None = None
    """The last health result: "ok" or the error of the check that failed."""


class ReloadUnderWay(msgspec.Struct):
    """A reload under way: first its stops (callers first), then its starts (callees first)."""

    message: ReloadJob
    added: list[str]
    removed: list[str]
    changed: list[str]
    restarted: list[str]
    stop_queue: list[list[str]]
    stopping: set[str] = msgspec.field(default_factory=set)
    to_start: list[str] = msgspec.field(default_factory=list)
    starting: set[str] = msgspec.field(default_factory=set)
    outcomes: dict[str, str] = msgspec.field(default_factory=dict)
    reconnected: list[str] = msgspec.field(default_factory=list)
    """Running callers restarted because an agent the reload started came up at a new
    URL (`url_changes`): the reload waits for them too."""


class Relaunch(msgspec.Struct):
    """The callers of `callee` that were given its old URL, restarted now that it is
    ready at `url`: one group at a time, callees first (the ordering rule)."""

    callee: str
    old_url: str
    url: str
    groups: list[list[str]]
    """The callers still to restart, stage by stage of the plan."""
    for_reload: bool
    """The callee is an agent the reload under way started: the reload answers once
    these callers are back."""
    restarting: set[str] = msgspec.field(default_factory=set)


class Waiting(msgspec.Struct):
    """A control request answered once each of `agents` has an outcome.

    `after_run[a]` is the run agent `a` had when asked: only a later run's readiness
    counts, so a report still on its way from the old process cannot answer.
    """

    reply: Reply
    agents: tuple[str, ...]
    success: str
    after_run: dict[str, int] = msgspec.field(default_factory=dict)
    outcomes: dict[str, str] = msgspec.field(default_factory=dict)


class JobState:
    """The supervisor's state of one job, shared by the logic and its collaborators.

    Plain data and the few questions about it that more than one of them asks; every
    decision stays with whoever owns that part of the job's life.
    """

    def __init__(
        self,
        plan: DeploymentPlan,
        *,
        policies: Mapping[str, RestartPolicy],
        on_failure: FailureAction,
        clock: Callable[[], float],
        shutdown_timeout: float | None,
    ) -> None:
        self.plan = plan
        self.shutdown_timeout = shutdown_timeout
        self.on_failure = on_failure
        self.clock = clock
        self.phase = JobPhase.IDLE
        self.started_at = 0.0
        self.stage = -1
        self.exit_code = EXIT_OK
        self.agents = {agent_id: AgentRecord() for agent_id in plan.start_order()}
        self.budgets = {a: RestartBudget(policies.get(a, RestartPolicy())) for a in self.agents}
        self.stop_queue: list[list[str]] = []
        self.stopping: set[str] = set()
        self.dependents: dict[str, list[str]] = {}
        """The callers of each agent, for restart_dependents."""
        self.find_dependents()
        self.pending_dependents: dict[str, list[str]] = {}
        self.held: set[str] = set()
        """Agents stopped on request: they stay stopped and are not failures."""
        self.restart_waits: list[Waiting] = []
        self.stop_waits: list[Waiting] = []
        self.reload: ReloadUnderWay | None = None
        self.relaunches: list[Relaunch] = []
        """Callers being restarted because an agent they call moved (`url_changes`)."""
        self.launches: dict[str, LaunchText] = {}
        """Each agent's launch as text (set by the shell); a reload compares against it."""

    def find_dependents(self) -> None:
        """Who calls each agent, from the plan in force."""
        self.dependents = {a: [] for a in self.agents}
        for caller, callees in self.plan.peers.items():
            for callee in callees:
                self.dependents[callee].append(caller)

    def states(self) -> dict[str, str]:
        return {agent_id: agent.state.value for agent_id, agent in self.agents.items()}

    def settled(self, agent_id: str) -> bool:
        """Ready, or failed under `continue` (which must not hold the stages back)."""
        state = self.agents[agent_id].state
        if state is AgentState.READY:
            return True
        if state is AgentState.STOPPED and agent_id in self.held:
            return True
        return self.on_failure is FailureAction.CONTINUE and state in (
            AgentState.FAILED,
            AgentState.EXITED,
        )

    def note_restart(self, agent_id: str) -> None:
        """Remember, at a restart, which dependents must follow once it is ready again."""
        if self.budgets[agent_id].policy.restart_dependents:
            started = [d for d in self.dependents[agent_id] if self.agents[d].ever_started]
            if started:
                self.pending_dependents[agent_id] = started
