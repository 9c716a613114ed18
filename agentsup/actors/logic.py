"""The job supervisor's decisions, free of threads, actors and I/O.

`SupervisorLogic` takes the messages the supervisor actor receives, one at a time, and
answers with effects: messages to send to agent actors, events to emit, and when to
finish. The actor is a thin shell that carries the effects out. Tests replay scripted
message histories against it with a fake clock.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from agentsup.exitcodes import EXIT_FAILED, EXIT_OK
from agentsup.messages import (
    AgentExited,
    AgentReady,
    AgentStarted,
    AgentStartFailed,
    AgentStopped,
    HealthCheckFailed,
    HealthRecovered,
    KillAgent,
    KillAll,
    ReloadJob,
    ReportStatus,
    RestartAgent,
    RestartAgents,
    ShutdownTimedOut,
    StartAgent,
    StartJob,
    StopAgent,
    StopAgents,
    StopJob,
)
from agentsup.messages.control import Reply
from agentsup.plan import DeploymentPlan
from agentsup.restart import FailureAction, RestartBudget, RestartMode, RestartPolicy
from agentsup.signalnames import signal_name

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


class Phase(StrEnum):
    IDLE = "idle"
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    FINISHED = "finished"


@dataclass
class _Agent:
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
class _Reload:
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
class _Waiting:
    """A control request answered once each of `agents` has an outcome.

    `after_run[a]` is the run agent `a` had when asked: only a later run's readiness
    counts, so a report still on its way from the old process cannot answer.
    """

    reply: Reply
    agents: tuple[str, ...]
    success: str
    after_run: dict[str, int] = field(default_factory=dict)
    outcomes: dict[str, str] = field(default_factory=dict)


class SupervisorLogic:
    """Stage advance, restart decisions and shutdown order for one job."""

    def __init__(
        self,
        plan: DeploymentPlan,
        *,
        policies: Mapping[str, RestartPolicy],
        on_failure: FailureAction = FailureAction.SHUTDOWN,
        clock: Callable[[], float],
        shutdown_timeout: float | None = None,
    ) -> None:
        self.plan = plan
        self.shutdown_timeout = shutdown_timeout
        self.on_failure = on_failure
        self.clock = clock
        self.phase = Phase.IDLE
        self.started_at = 0.0
        self.stage = -1
        self.exit_code = EXIT_OK
        self.agents = {agent_id: _Agent() for stage in plan.stages for agent_id in stage}
        self.budgets = {a: RestartBudget(policies.get(a, RestartPolicy())) for a in self.agents}
        self._stop_queue: list[list[str]] = []
        self._stopping: set[str] = set()
        # callers of each agent, for restart_dependents
        self.dependents: dict[str, list[str]] = {a: [] for a in self.agents}
        for caller, callees in plan.peers.items():
            for callee in callees:
                self.dependents[callee].append(caller)
        self._pending_dependents: dict[str, list[str]] = {}
        # agents stopped on request: they stay stopped and are not failures
        self.held: set[str] = set()
        self._restart_waits: list[_Waiting] = []
        self._reload: _Reload | None = None
        self.launches: dict[str, str] = {}
        """Each agent's launch as text (set by the shell); a reload compares against it."""
        self._stop_waits: list[_Waiting] = []

    # ----------------------------------------------------------------- dispatch

    def handle(self, message: object) -> list[Effect]:
        agent_id = getattr(message, "agent_id", None)
        if isinstance(agent_id, str) and agent_id not in self.agents:
            return []  # from the actor of an agent a reload removed
        match message:
            case StartJob():
                return self._start_job()
            case AgentStarted():
                return self._started(message)
            case AgentReady():
                return self._ready(message)
            case AgentExited():
                return self._exited(message)
            case AgentStartFailed():
                return self._start_failed(message)
            case HealthCheckFailed():
                return self._unhealthy(message)
            case HealthRecovered():
                return self._recovered(message)
            case AgentStopped():
                return self._stopped(message)
            case StopJob(signal=signal):
                return self._stop_job(signal)
            case KillAll(signal=signal):
                return self._kill_all("kill", signal)
            case ShutdownTimedOut():
                if self.phase is not Phase.STOPPING:
                    return []
                return self._kill_all("shutdown_timeout")
            case ReportStatus(reply=reply):
                return [Respond(reply, 200, self.status())]
            case RestartAgents():
                return self._restart_requested(message)
            case StopAgents():
                return self._stop_requested(message)
            case ReloadJob():
                return self._reload_requested(message)
        return []

    def states(self) -> dict[str, str]:
        return {agent_id: agent.state.value for agent_id, agent in self.agents.items()}

    # ----------------------------------------------------------------- start-up

    def _start_job(self) -> list[Effect]:
        if self.phase is not Phase.IDLE:
            return []
        self.phase = Phase.STARTING
        self.started_at = self.clock()
        if not self.plan.stages:
            self.phase = Phase.RUNNING
            return [Emit("job.ready", {"agents": 0, "stages": 0, "seconds": 0.0})]
        return self._start_stage(0)

    def _start_stage(self, index: int) -> list[Effect]:
        self.stage = index
        members = self.plan.stages[index]
        effects: list[Effect] = [
            Emit("stage.started", {"stage": index + 1, "agents": list(members)})
        ]
        for agent_id in members:
            agent = self.agents[agent_id]
            agent.state = AgentState.STARTING
            agent.ever_started = True
            effects.append(Emit("agent.starting", {"agent": agent_id, "stage": index + 1}))
            effects.append(Send(agent_id, StartAgent()))
        return effects

    def _started(self, message: AgentStarted) -> list[Effect]:
        agent = self.agents[message.agent_id]
        agent.run = message.run
        agent.pid, agent.host = message.pid, message.host
        agent.started_at = self.clock()
        agent.health = None
        if agent.state is AgentState.RESTARTING:
            agent.state = AgentState.STARTING
        return [
            Emit(
                "agent.started",
                {"agent": message.agent_id, "pid": message.pid, "host": message.host,
                 "run": message.run},
            )
        ]

    def _ready(self, message: AgentReady) -> list[Effect]:
        agent = self.agents[message.agent_id]
        if agent.state in (AgentState.STOPPING, AgentState.STOPPED):
            return []
        agent.state = AgentState.READY
        agent.health = "ok"
        effects: list[Effect] = [
            Emit(
                "agent.ready",
                {"agent": message.agent_id, "url": message.url,
                 "seconds": round(message.seconds, 4), "run": message.run,
                 **({"name": message.name} if message.name else {})},
            )
        ]
        effects.extend(self._outcome(self._restart_waits, message.agent_id, "ready",
                                     run=message.run))
        effects.extend(self._reload_outcome(message.agent_id, "ready"))
        effects.extend(self._restart_waiting_dependents(message.agent_id))
        if self.phase is Phase.STARTING:
            effects.extend(self._maybe_advance())
        return effects

    def _settled(self, agent_id: str) -> bool:
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

    def _maybe_advance(self) -> list[Effect]:
        effects: list[Effect] = []
        while self.phase is Phase.STARTING and all(
            self._settled(a) for a in self.plan.stages[self.stage]
        ):
            effects.append(
                Emit(
                    "stage.ready",
                    {"stage": self.stage + 1, "agents": list(self.plan.stages[self.stage])},
                )
            )
            if self.stage + 1 < len(self.plan.stages):
                effects.extend(self._start_stage(self.stage + 1))
            else:
                self.phase = Phase.RUNNING
                effects.append(
                    Emit("job.ready", {"agents": len(self.agents),
                                       "stages": len(self.plan.stages),
                                       "seconds": round(self.clock() - self.started_at, 4)})
                )
        return effects

    # ----------------------------------------------------------------- failures

    def _exited(self, message: AgentExited) -> list[Effect]:
        agent_id = message.agent_id
        agent = self.agents[agent_id]
        fields: dict[str, Any] = {"agent": agent_id, "run": message.run}
        if message.signal is not None:
            fields["signal"] = signal_name(message.signal)
            description = fields["signal"]
        elif message.exit_code is None and message.reason:
            fields["reason"] = message.reason
            description = message.reason
        else:
            fields["exit_code"] = message.exit_code
            description = f"exit code {message.exit_code}"
            if message.reason:  # what the target knows beyond the code (out of memory)
                fields["reason"] = message.reason
                description += f", {message.reason}"
        level = "info" if message.exit_code == 0 and message.signal is None else "warning"
        effects: list[Effect] = [Emit("agent.exited", fields, level)]
        if self.phase in (Phase.STOPPING, Phase.FINISHED) or agent.state in (
            AgentState.STOPPING,
            AgentState.STOPPED,
        ):
            return effects
        budget = self.budgets[agent_id]
        budget.record_exit(description)
        was_starting = agent.state is AgentState.STARTING
        if budget.policy.wants_restart(message.exit_code, message.signal):
            return effects + self._restart_within_budget(agent_id, f"exited again ({description})")
        if was_starting:
            reason = f"exited before it was ready ({description})"
            return effects + self._agent_failed(agent_id, reason)
        if message.exit_code == 0 and message.signal is None:
            if (
                self.phase is Phase.STARTING
                and self.on_failure is FailureAction.SHUTDOWN
                and self.plan.stage_of(agent_id) == self.stage
            ):
                # Its stage can never become ready now; waiting would hang start-up.
                reason = f"exited before its stage was ready ({description})"
                return effects + self._agent_failed(agent_id, reason)
            agent.state = AgentState.EXITED
            effects.extend(self._maybe_advance() if self.phase is Phase.STARTING else [])
            return effects
        return effects + self._agent_failed(agent_id, f"exited ({description})")

    def _restart_within_budget(self, agent_id: str, what: str) -> list[Effect]:
        """Schedule the next restart, or report the agent failed once the budget is spent."""
        agent = self.agents[agent_id]
        budget = self.budgets[agent_id]
        attempt = budget.next_attempt(self.clock())
        if attempt is None:
            reason = (
                f"restarted {budget.policy.max_restarts} times within "
                f"{budget.policy.window:g} s and {what}"
            )
            return self._agent_failed(agent_id, reason)
        delay = budget.delay(attempt)
        agent.state = AgentState.RESTARTING
        agent.restarts += 1
        self.note_restart(agent_id)
        return [
            Emit("agent.restarting", {"agent": agent_id, "attempt": attempt, "delay": delay}),
            Send(agent_id, RestartAgent(attempt, delay)),
        ]

    def _start_failed(self, message: AgentStartFailed) -> list[Effect]:
        agent = self.agents[message.agent_id]
        if agent.state in (AgentState.STOPPING, AgentState.STOPPED):
            return []
        if message.run > 1 and self.phase not in (Phase.STOPPING, Phase.FINISHED):
            # A restart that could not launch or come up (a host still unreachable, say)
            # is one more failure under the restart policy, not the end of the agent.
            budget = self.budgets[message.agent_id]
            if budget.policy.mode is not RestartMode.NO:
                budget.record_exit(message.reason)
                # Each failed attempt says why, not only the final agent.failed.
                failed = Emit(
                    "agent.restart_failed",
                    {"agent": message.agent_id, "run": message.run, "reason": message.reason},
                    "warning",
                )
                return [failed, *self._restart_within_budget(
                    message.agent_id, f"failed to start again ({message.reason})"
                )]
        return self._agent_failed(message.agent_id, message.reason)

    def _unhealthy(self, message: HealthCheckFailed) -> list[Effect]:
        agent = self.agents[message.agent_id]
        agent.health = message.error
        effects: list[Effect] = [
            Emit(
                "agent.unhealthy",
                {"agent": message.agent_id, "failures": message.failures,
                 "error": message.error, "run": message.run},
                "warning",
            )
        ]
        if agent.state is AgentState.READY and self.phase not in (
            Phase.STOPPING,
            Phase.FINISHED,
        ):
            agent.state = AgentState.UNHEALTHY
            reason = f"{message.failures} failed health checks in a row: {message.error}"
            effects.append(Send(message.agent_id, KillAgent(reason)))
        return effects

    def _recovered(self, message: HealthRecovered) -> list[Effect]:
        agent = self.agents[message.agent_id]
        agent.health = "ok"
        if agent.state is AgentState.UNHEALTHY:
            agent.state = AgentState.READY
        return []

    def _agent_failed(self, agent_id: str, reason: str) -> list[Effect]:
        agent = self.agents[agent_id]
        agent.state = AgentState.FAILED
        budget = self.budgets[agent_id]
        effects: list[Effect] = [
            Emit(
                "agent.failed",
                {"agent": agent_id, "reason": reason, "exits": list(budget.exit_history)},
                "error",
            )
        ]
        effects.extend(self._outcome(self._restart_waits, agent_id, f"failed: {reason}"))
        effects.extend(self._reload_outcome(agent_id, f"failed: {reason}"))
        if self.phase in (Phase.STOPPING, Phase.FINISHED):
            return effects  # already stopping: report it, do not start the stop over
        if self.on_failure is FailureAction.CONTINUE:
            if self.phase is Phase.STARTING:
                effects.extend(self._maybe_advance())
            return effects
        self.exit_code = EXIT_FAILED
        effects.append(
            Emit("job.failed", {"reason": f"agent {agent_id!r} failed: {reason}"}, "error")
        )
        return effects + self._begin_stop(signal=None)

    def _restart_waiting_dependents(self, agent_id: str) -> list[Effect]:
        """Once an agent is ready again, restart the agents that connect to it."""
        budget = self.budgets[agent_id]
        if not budget.policy.restart_dependents or agent_id not in self._pending_dependents:
            return []
        effects: list[Effect] = []
        for dependent in self._pending_dependents.pop(agent_id):
            state = self.agents[dependent].state
            if state in (AgentState.READY, AgentState.UNHEALTHY):
                self.agents[dependent].state = AgentState.RESTARTING
                self.agents[dependent].restarts += 1
                effects.append(
                    Emit("agent.restarting", {"agent": dependent, "attempt": 0, "delay": 0.0,
                                              "because": agent_id})
                )
                effects.append(Send(dependent, RestartAgent(0, 0.0)))
        return effects

    def note_restart(self, agent_id: str) -> None:
        """Remember, at a restart, which dependents must follow once it is ready again."""
        if self.budgets[agent_id].policy.restart_dependents:
            started = [d for d in self.dependents[agent_id] if self.agents[d].ever_started]
            if started:
                self._pending_dependents[agent_id] = started

    # ----------------------------------------------------------------- shutdown

    def _stop_job(self, signal: str | None) -> list[Effect]:
        if self.phase in (Phase.STOPPING, Phase.FINISHED):
            return []
        return self._begin_stop(signal)

    def _begin_stop(self, signal: str | None, reason: str | None = None) -> list[Effect]:
        self.phase = Phase.STOPPING
        fields: dict[str, Any] = {"reason": reason or ("signal" if signal else "failure")}
        if signal:
            fields["signal"] = signal
        effects: list[Effect] = [Emit("job.stopping", fields)]
        if self.shutdown_timeout is not None:
            # Stage stop timeouts add up; this bounds the whole stop.
            effects.append(After(self.shutdown_timeout, ShutdownTimedOut()))
        effects.extend(self._abandon_reload())
        self._stop_queue = [
            [
                a for a in stage
                if a in self.agents and self.agents[a].ever_started
                and self.agents[a].state is not AgentState.STOPPED
            ]
            for stage in reversed(self.plan.stages)
        ]
        return effects + self._stop_next_stage()

    def _stop_next_stage(self) -> list[Effect]:
        while self._stop_queue and not self._stopping:
            members = self._stop_queue.pop(0)
            for agent_id in members:
                self.agents[agent_id].state = AgentState.STOPPING
                self._stopping.add(agent_id)
            if members:
                return [Send(a, StopAgent()) for a in members]
        if not self._stopping and not self._stop_queue:
            return self._finish()
        return []

    def _stopped(self, message: AgentStopped) -> list[Effect]:
        agent_id = message.agent_id
        if agent_id not in self._stopping:
            return []
        self._stopping.discard(agent_id)
        self.agents[agent_id].state = AgentState.STOPPED
        fields: dict[str, Any] = {"agent": agent_id}
        if message.signal is not None:
            fields["signal"] = signal_name(message.signal)
        elif message.exit_code is not None:
            fields["exit_code"] = message.exit_code
        effects: list[Effect] = [Emit("agent.stopped", fields)]
        effects.extend(self._outcome(self._stop_waits, agent_id, "stopped"))
        effects.extend(self._outcome(self._restart_waits, agent_id, "stopped"))
        if self.phase is Phase.STOPPING and not self._stopping:
            effects.extend(self._stop_next_stage())
        elif self.phase is Phase.STARTING:
            effects.extend(self._maybe_advance())
        reload = self._reload
        if reload is not None and agent_id in reload.stopping:
            reload.stopping.discard(agent_id)
            effects.extend(self._reload_stop_next())
        return effects

    def _finish(self) -> list[Effect]:
        self.phase = Phase.FINISHED
        return [
            *self._answer_all_waiting(),
            Emit("job.stopped", {"exit_code": self.exit_code}),
            Finish(self.exit_code),
        ]

    def _kill_all(self, reason: str = "kill", signal: str | None = None) -> list[Effect]:
        """Kill every agent still running at once and finish: a second signal (named in
        `signal`), or `shutdown_timeout` running out during an ordered stop."""
        if self.phase is Phase.FINISHED:
            return []
        self.phase = Phase.FINISHED
        fields: dict[str, Any] = {"reason": reason}
        if signal:
            fields["signal"] = signal
        effects: list[Effect] = [Emit("job.stopping", fields, "warning")]
        for agent_id, agent in self.agents.items():
            if agent.ever_started and agent.state is not AgentState.STOPPED:
                effects.append(Send(agent_id, KillAgent("killed on request")))
        effects.extend(self._answer_all_waiting())
        effects.extend(self._abandon_reload())
        effects.append(Emit("job.stopped", {"exit_code": self.exit_code, "killed": True}))
        effects.append(Finish(self.exit_code))
        return effects

    # ----------------------------------------------------------------- control requests

    def status(self) -> dict[str, Any]:
        now = self.clock()
        agents = []
        for agent_id, agent in self.agents.items():
            running = agent.state in (AgentState.STARTING, AgentState.READY,
                                      AgentState.UNHEALTHY, AgentState.STOPPING)
            uptime = None
            if running and agent.started_at is not None:
                uptime = round(now - agent.started_at, 3)
            agents.append({
                "id": agent_id,
                "state": agent.state.value,
                "pid": agent.pid if running else None,
                "host": agent.host,
                "url": self.plan.agent_urls.get(agent_id),
                "run": agent.run,
                "restarts": agent.restarts,
                "uptime": uptime,
                "health": agent.health,
                "stage": self.plan.stage_of(agent_id) + 1,
            })
        return {"phase": self.phase.value, "agents": agents}

    def _refuse(self, reply: Reply, agents: tuple[str, ...]) -> list[Effect] | None:
        """An answer for a request that cannot be carried out, or None when it can."""
        unknown = [a for a in agents if a not in self.agents]
        if unknown:
            names = ", ".join(repr(a) for a in unknown)
            return [Respond(reply, 404, {"error": f"no agent {names} in this job"})]
        if self.phase not in (Phase.STARTING, Phase.RUNNING):
            return [Respond(reply, 409, {"error": f"the job is {self.phase.value}"})]
        for agent_id in agents:
            state = self.agents[agent_id].state
            if state is AgentState.PENDING:
                return [Respond(reply, 409, {
                    "error": f"agent {agent_id!r} has not been started yet (its stage is "
                             "still waiting)"})]
            if state is AgentState.STOPPING:
                return [Respond(reply, 409, {"error": f"agent {agent_id!r} is stopping"})]
        return None

    def _restart_requested(self, message: RestartAgents) -> list[Effect]:
        agents = tuple(dict.fromkeys(message.agents))
        refused = self._refuse(message.reply, agents)
        if refused is not None:
            return refused
        if not agents:
            return [Respond(message.reply, 400, {"error": "name at least one agent"})]
        effects: list[Effect] = []
        for agent_id in agents:
            agent = self.agents[agent_id]
            self.held.discard(agent_id)
            agent.state = AgentState.RESTARTING
            agent.restarts += 1
            self.note_restart(agent_id)
            effects.append(Emit("agent.restarting", {
                "agent": agent_id, "attempt": 0, "delay": 0.0, "because": "requested"}))
            effects.append(Send(agent_id, RestartAgent(0, 0.0, requested=True)))
        self._restart_waits.append(
            _Waiting(message.reply, agents, "ready", {a: self.agents[a].run for a in agents})
        )
        return effects

    def _stop_requested(self, message: StopAgents) -> list[Effect]:
        if not message.agents:
            if self.phase in (Phase.STOPPING, Phase.FINISHED):
                return [Respond(message.reply, 202, {"stopping": True})]
            return [*self._begin_stop(None, reason="request"),
                    Respond(message.reply, 202, {"stopping": True})]
        agents = tuple(dict.fromkeys(message.agents))
        refused = self._refuse(message.reply, agents)
        if refused is not None:
            return refused
        effects: list[Effect] = []
        for agent_id in agents:
            agent = self.agents[agent_id]
            self.held.add(agent_id)
            if agent.state is AgentState.STOPPED:
                continue
            agent.state = AgentState.STOPPING
            self._stopping.add(agent_id)
            effects.append(Send(agent_id, StopAgent()))
        waiting = _Waiting(message.reply, agents, "stopped")
        for agent_id in agents:
            if self.agents[agent_id].state is AgentState.STOPPED:
                waiting.outcomes[agent_id] = "stopped"
        self._stop_waits.append(waiting)
        effects.extend(self._outcome(self._stop_waits, None, ""))
        return effects

    def _outcome(
        self, waits: list[_Waiting], agent_id: str | None, outcome: str, run: int | None = None
    ) -> list[Effect]:
        """Record `outcome` for `agent_id` and answer every request now complete."""
        effects: list[Effect] = []
        for waiting in list(waits):
            counts = run is None or run > waiting.after_run.get(agent_id or "", 0)
            if agent_id in waiting.agents and agent_id not in waiting.outcomes and counts:
                waiting.outcomes[agent_id] = outcome
            if len(waiting.outcomes) == len(waiting.agents):
                waits.remove(waiting)
                effects.append(Respond(waiting.reply, 200, self._answer(waiting)))
        return effects

    @staticmethod
    def _answer(waiting: _Waiting) -> dict[str, Any]:
        outcomes = {a: waiting.outcomes.get(a, "unknown") for a in waiting.agents}
        return {"ok": all(o == waiting.success for o in outcomes.values()), "agents": outcomes}

    def _answer_all_waiting(self) -> list[Effect]:
        """The job is over: whatever is still waiting is answered with what it got."""
        effects: list[Effect] = []
        for waits, outcome in ((self._restart_waits, "job stopped"),
                               (self._stop_waits, "stopped")):
            for waiting in waits:
                for agent_id in waiting.agents:
                    waiting.outcomes.setdefault(agent_id, outcome)
                effects.append(Respond(waiting.reply, 200, self._answer(waiting)))
            waits.clear()
        return effects

    # ----------------------------------------------------------------- reload

    def _reload_requested(self, message: ReloadJob) -> list[Effect]:
        if self.phase is not Phase.RUNNING:
            return [Respond(message.reply, 409, {
                "error": f"the job is {self.phase.value}; reload once it is running"})]
        if self._reload is not None:
            return [Respond(message.reply, 409, {"error": "a reload is already under way"})]
        plan: DeploymentPlan = message.plan
        new_order = [a for stage in plan.stages for a in stage]
        old_order = [a for stage in self.plan.stages for a in stage]
        added = [a for a in new_order if a not in self.agents]
        removed = [a for a in old_order if a not in plan.agent_urls]
        changed = [a for a in new_order
                   if a in self.agents and message.launches[a] != self.launches.get(a)]
        restarted = [a for a in changed if self._running(a)]
        stops = {a for a in removed if self._running(a)} | set(restarted)
        reload = _Reload(
            message, added, removed, changed, restarted,
            stop_queue=[[a for a in stage if a in stops]
                        for stage in reversed(self.plan.stages)],
            to_start=[a for a in new_order if a in added or a in restarted],
        )
        self._reload = reload
        effects: list[Effect] = [Emit("job.reloading", {
            "added": added, "removed": removed, "restarted": restarted})]
        return effects + self._reload_stop_next()

    def _running(self, agent_id: str) -> bool:
        return self.agents[agent_id].state in (
            AgentState.STARTING, AgentState.READY, AgentState.UNHEALTHY, AgentState.RESTARTING)

    def _reload_stop_next(self) -> list[Effect]:
        reload = self._reload
        if reload is None or self.phase is not Phase.RUNNING:
            return []
        while reload.stop_queue and not reload.stopping:
            members = reload.stop_queue.pop(0)
            for agent_id in members:
                self.agents[agent_id].state = AgentState.STOPPING
                self._stopping.add(agent_id)
                reload.stopping.add(agent_id)
            if members:
                return [Send(a, StopAgent()) for a in members]
        return self._reload_switch(reload)

    def _reload_switch(self, reload: _Reload) -> list[Effect]:
        """Every stop is done: take the new plan, replace actors, start what waits."""
        message = reload.message
        effects: list[Effect] = []
        for agent_id in reload.removed:
            effects.append(Retire(agent_id))
            del self.agents[agent_id]
            del self.budgets[agent_id]
            self.held.discard(agent_id)
        self.plan = message.plan
        self.launches = dict(message.launches)
        for agent_id in reload.added:
            self.agents[agent_id] = _Agent()
        for agent_id in reload.added + reload.changed:
            self.budgets[agent_id] = RestartBudget(
                message.policies.get(agent_id, RestartPolicy()))
            effects.append(Replace(agent_id, message.make))
        for agent_id in reload.restarted:
            self.agents[agent_id].state = AgentState.PENDING
            self.agents[agent_id].restarts += 1
        self.dependents = {a: [] for a in self.agents}
        for caller, callees in self.plan.peers.items():
            for callee in callees:
                self.dependents[callee].append(caller)
        self._pending_dependents = {}
        return effects + self._reload_start_ready()

    def _reload_start_ready(self) -> list[Effect]:
        """Start each waiting agent whose peers are all ready (the ordering rule)."""
        reload = self._reload
        if reload is None or reload.stop_queue or reload.stopping:
            return []
        effects: list[Effect] = []
        for agent_id in list(reload.to_start):
            peers = self.plan.peers[agent_id]
            blocked = [p for p in peers if self.agents[p].state in (
                AgentState.FAILED, AgentState.EXITED, AgentState.STOPPED)
                and not self._settled(p)]
            if blocked:
                reload.to_start.remove(agent_id)
                reload.outcomes[agent_id] = f"not started: {blocked[0]!r} is not running"
            elif all(self._settled(p) for p in peers):
                reload.to_start.remove(agent_id)
                reload.starting.add(agent_id)
                agent = self.agents[agent_id]
                agent.state = AgentState.STARTING
                agent.ever_started = True
                effects.append(Emit("agent.starting", {
                    "agent": agent_id, "stage": self.plan.stage_of(agent_id) + 1}))
                effects.append(Send(agent_id, StartAgent()))
        if not reload.to_start and len(reload.outcomes) == len(reload.added) + len(
            reload.restarted
        ):
            self._reload = None
            fields = {"added": reload.added, "removed": reload.removed,
                      "restarted": reload.restarted}
            ok = all(o == "ready" for o in reload.outcomes.values())
            effects.append(Emit("job.reloaded", fields, "info" if ok else "warning"))
            effects.append(Respond(reload.message.reply, 200,
                                   {"ok": ok, **fields, "agents": dict(reload.outcomes)}))
        return effects

    def _reload_outcome(self, agent_id: str, outcome: str) -> list[Effect]:
        reload = self._reload
        if reload is None or agent_id not in reload.starting or agent_id in reload.outcomes:
            return []
        reload.outcomes[agent_id] = outcome
        return self._reload_start_ready()

    def _abandon_reload(self) -> list[Effect]:
        reload, self._reload = self._reload, None
        if reload is None:
            return []
        return [Respond(reload.message.reply, 200, {
            "ok": False, "added": reload.added, "removed": reload.removed,
            "restarted": reload.restarted, "error": "the job stopped during the reload"})]
