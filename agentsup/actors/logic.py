"""The job supervisor's decisions, free of threads, actors and I/O.

`SupervisorLogic` takes the messages the supervisor actor receives, one at a time, and
answers with effects: messages to send to agent actors, events to emit, and when to
finish. The actor is a thin shell that carries the effects out. Tests replay scripted
message histories against it with a fake clock. Its answers to control requests and
its reload steps and its shutdown order live in `control_requests`, `reload_steps` and
`shutdown_steps`; its effects and records
in `job_state`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from agentsup.actors import control_requests, reload_steps, shutdown_steps
from agentsup.actors.job_state import (
    After,
    AgentRecord,
    AgentState,
    Effect,
    Emit,
    Finish,
    JobPhase,
    ReloadUnderWay,
    Replace,
    Respond,
    Retire,
    Send,
    Waiting,
)
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
    StopAgents,
    StopJob,
)
from agentsup.plan import DeploymentPlan
from agentsup.restart import FailureAction, RestartBudget, RestartMode, RestartPolicy
from agentsup.signalnames import signal_name

__all__ = ["After", "AgentState", "Effect", "Emit", "Finish", "JobPhase", "Replace", "Respond",
           "Retire", "Send", "SupervisorLogic"]


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
        self.phase = JobPhase.IDLE
        self.started_at = 0.0
        self.stage = -1
        self.exit_code = EXIT_OK
        self.agents = {agent_id: AgentRecord() for stage in plan.stages for agent_id in stage}
        self.budgets = {a: RestartBudget(policies.get(a, RestartPolicy())) for a in self.agents}
        self.stop_queue: list[list[str]] = []
        self.stopping: set[str] = set()
        # callers of each agent, for restart_dependents
        self.dependents: dict[str, list[str]] = {a: [] for a in self.agents}
        for caller, callees in plan.peers.items():
            for callee in callees:
                self.dependents[callee].append(caller)
        self.pending_dependents: dict[str, list[str]] = {}
        # agents stopped on request: they stay stopped and are not failures
        self.held: set[str] = set()
        self.restart_waits: list[Waiting] = []
        self.reload: ReloadUnderWay | None = None
        self.launches: dict[str, str] = {}
        """Each agent's launch as text (set by the shell); a reload compares against it."""
        self.stop_waits: list[Waiting] = []

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
                return shutdown_steps.stopped(self, message)
            case StopJob(signal=signal):
                return shutdown_steps.stop_job(self, signal)
            case KillAll(signal=signal):
                return shutdown_steps.kill_all(self, "kill", signal)
            case ShutdownTimedOut():
                if self.phase is not JobPhase.STOPPING:
                    return []
                return shutdown_steps.kill_all(self, "shutdown_timeout")
            case ReportStatus(reply=reply):
                return [Respond(reply, 200, control_requests.status(self))]
            case RestartAgents():
                return control_requests.restart_requested(self, message)
            case StopAgents():
                return control_requests.stop_requested(self, message)
            case ReloadJob():
                return reload_steps.requested(self, message)
        return []

    def states(self) -> dict[str, str]:
        return {agent_id: agent.state.value for agent_id, agent in self.agents.items()}

    # ----------------------------------------------------------------- start-up

    def _start_job(self) -> list[Effect]:
        if self.phase is not JobPhase.IDLE:
            return []
        self.phase = JobPhase.STARTING
        self.started_at = self.clock()
        if not self.plan.stages:
            self.phase = JobPhase.RUNNING
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
        effects.extend(control_requests.record_outcome(
            self, self.restart_waits, message.agent_id, "ready", run=message.run))
        effects.extend(reload_steps.outcome(self, message.agent_id, "ready"))
        effects.extend(self._restart_waiting_dependents(message.agent_id))
        if self.phase is JobPhase.STARTING:
            effects.extend(self._maybe_advance())
        return effects

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

    def _maybe_advance(self) -> list[Effect]:
        effects: list[Effect] = []
        while self.phase is JobPhase.STARTING and all(
            self.settled(a) for a in self.plan.stages[self.stage]
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
                self.phase = JobPhase.RUNNING
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
        if self.phase in (JobPhase.STOPPING, JobPhase.FINISHED) or agent.state in (
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
                self.phase is JobPhase.STARTING
                and self.on_failure is FailureAction.SHUTDOWN
                and self.plan.stage_of(agent_id) == self.stage
            ):
                # Its stage can never become ready now; waiting would hang start-up.
                reason = f"exited before its stage was ready ({description})"
                return effects + self._agent_failed(agent_id, reason)
            agent.state = AgentState.EXITED
            effects.extend(self._maybe_advance() if self.phase is JobPhase.STARTING else [])
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
        if message.run > 1 and self.phase not in (JobPhase.STOPPING, JobPhase.FINISHED):
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
            JobPhase.STOPPING,
            JobPhase.FINISHED,
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
        effects.extend(control_requests.record_outcome(
            self, self.restart_waits, agent_id, f"failed: {reason}"))
        effects.extend(reload_steps.outcome(self, agent_id, f"failed: {reason}"))
        if self.phase in (JobPhase.STOPPING, JobPhase.FINISHED):
            return effects  # already stopping: report it, do not start the stop over
        if self.on_failure is FailureAction.CONTINUE:
            if self.phase is JobPhase.STARTING:
                effects.extend(self._maybe_advance())
            return effects
        self.exit_code = EXIT_FAILED
        effects.append(
            Emit("job.failed", {"reason": f"agent {agent_id!r} failed: {reason}"}, "error")
        )
        return effects + shutdown_steps.begin_stop(self, signal=None)

    def _restart_waiting_dependents(self, agent_id: str) -> list[Effect]:
        """Once an agent is ready again, restart the agents that connect to it."""
        budget = self.budgets[agent_id]
        if not budget.policy.restart_dependents or agent_id not in self.pending_dependents:
            return []
        effects: list[Effect] = []
        for dependent in self.pending_dependents.pop(agent_id):
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
                self.pending_dependents[agent_id] = started
