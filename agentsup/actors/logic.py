"""The job supervisor's decisions, free of threads, actors and I/O.

`SupervisorLogic` takes the messages the supervisor actor receives, one at a time, and
answers with effects: messages to send to agent actors, events to emit, and when to
finish. The actor is a thin shell that carries the effects out. Tests replay scripted
message histories against it with a fake clock.

The logic decides the start-up (stage advance) and what a failure means (restart
budgets, `on_failure`), and hands the rest to collaborators that share its `JobState`:
`ControlRequests` (`control_requests`), `Reload` (`reload_steps`), `Shutdown`
(`shutdown_steps`) and `UrlChanges` (`url_changes`). They import `job_state` and each
other in one direction only (control requests -> shutdown -> reload), never this module.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from agentsup.actors.control_requests import ControlRequests
from agentsup.actors.job_state import (
    After,
    AgentRecord,
    AgentState,
    Effect,
    Emit,
    Finish,
    JobPhase,
    JobState,
    Replace,
    Respond,
    Retire,
    Send,
)
from agentsup.actors.reload_steps import Reload
from agentsup.actors.shutdown_steps import Shutdown
from agentsup.actors.url_changes import UrlChanges
from agentsup.actors.waiting import record_outcome
from agentsup.exitcodes import EXIT_FAILED
from agentsup.launches import LaunchText
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
from agentsup.restart import FailureAction, RestartMode, RestartPolicy
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
        self.state = JobState(plan, policies=policies, on_failure=on_failure, clock=clock,
                              shutdown_timeout=shutdown_timeout)
        self._reload = Reload(self.state)
        self._shutdown = Shutdown(self.state, self._reload)
        self._control = ControlRequests(self.state, self._shutdown)
        self._urls = UrlChanges(self.state)
        self._settled_upto: tuple[tuple[str, ...], int] = ((), 0)
        """The stage last looked at by `_stage_settled`, and how many of its agents, from
        the first, were settled then."""

    @property
    def plan(self) -> DeploymentPlan:
        return self.state.plan

    @property
    def phase(self) -> JobPhase:
        return self.state.phase

    @property
    def agents(self) -> dict[str, AgentRecord]:
        return self.state.agents

    @property
    def launches(self) -> dict[str, LaunchText]:
        """Each agent's launch as text (set by the shell); a reload compares against it."""
        return self.state.launches

    @launches.setter
    def launches(self, launches: dict[str, LaunchText]) -> None:
        self.state.launches = launches

    def states(self) -> dict[str, str]:
        return self.state.states()

    # ----------------------------------------------------------------- dispatch

    def handle(self, message: object) -> list[Effect]:
        agent_id = getattr(message, "agent_id", None)
        if isinstance(agent_id, str) and agent_id not in self.state.agents:
            return []  # from the actor of an agent a reload removed
        effects = self._dispatch(message)
        if self.state.relaunches:
            # Callers following an agent to its new URL: the next group may go now.
            effects.extend(self._urls.advance())
        if self.state.reload is not None:
            # An agent the reload waits to start may be free to start now (or never
            # able to), whatever the message was: a callee that was restarting when
            # the reload came to it is ready now, say.
            effects.extend(self._reload.start_ready())
        return effects

    def _dispatch(self, message: object) -> list[Effect]:
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
                return self._shutdown.stop_job(signal)
            case KillAll(signal=signal):
                return self._shutdown.kill_all("kill", signal)
            case ShutdownTimedOut():
                if self.state.phase is not JobPhase.STOPPING:
                    return []
                return self._shutdown.kill_all("shutdown_timeout")
            case ReportStatus(reply=reply):
                return [Respond(reply, 200, self._control.status())]
            case RestartAgents():
                return self._control.restart_requested(message)
            case StopAgents():
                return self._control.stop_requested(message)
            case ReloadJob():
                return self._reload.requested(message)
        return []

    # ----------------------------------------------------------------- start-up

    def _start_job(self) -> list[Effect]:
        if self.state.phase is not JobPhase.IDLE:
            return []
        self.state.phase = JobPhase.STARTING
        self.state.started_at = self.state.clock()
        if not self.state.plan.stages:
            self.state.phase = JobPhase.RUNNING
            return [Emit("job.ready", {"agents": 0, "stages": 0, "seconds": 0.0})]
        return self._start_stage(0)

    def _start_stage(self, index: int) -> list[Effect]:
        self.state.stage = index
        members = self.state.plan.stages[index]
        effects: list[Effect] = [
            Emit("stage.started", {"stage": index + 1, "agents": list(members)})
        ]
        for agent_id in members:
            agent = self.state.agents[agent_id]
            agent.state = AgentState.STARTING
            agent.ever_started = True
            effects.append(Emit("agent.starting", {"agent": agent_id, "stage": index + 1}))
            effects.append(Send(agent_id, StartAgent()))
        return effects

    def _started(self, message: AgentStarted) -> list[Effect]:
        agent = self.state.agents[message.agent_id]
        agent.run = message.run
        agent.pid, agent.host = message.pid, message.host
        agent.started_at = self.state.clock()
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
        agent = self.state.agents[message.agent_id]
        if agent.state in (AgentState.STOPPING, AgentState.STOPPED):
            return []
        agent.state = AgentState.READY
        agent.health = "ok"
        agent.url = message.url
        effects: list[Effect] = [
            Emit(
                "agent.ready",
                {"agent": message.agent_id, "url": message.url,
                 "seconds": round(message.seconds, 4), "run": message.run,
                 **({"name": message.name} if message.name else {})},
            )
        ]
        effects.extend(record_outcome(
            self.state.restart_waits, message.agent_id, "ready", run=message.run))
        # Before the reload hears of it: a reload that started it waits for its callers.
        effects.extend(self._urls.ready_at(message.agent_id, message.url))
        effects.extend(self._reload.outcome(message.agent_id, "ready"))
        effects.extend(self._restart_waiting_dependents(message.agent_id))
        if self.state.phase is JobPhase.STARTING:
            effects.extend(self._maybe_advance())
        return effects

    def _stage_settled(self, stage: tuple[str, ...]) -> bool:
        """Whether every agent of `stage` is settled, looking first from where the last
        look stopped: asked at each agent's readiness, a look over the whole stage made
        a 200-agent stage 20,000 looks at agents; this makes it about 600.

        An agent passed earlier may have left since (a crash, a restart): once the
        rest are settled, the whole stage is looked at again before it counts."""
        known, upto = self._settled_upto
        if known is not stage:
            upto = 0
        settled = self.state.settled
        while upto < len(stage) and settled(stage[upto]):
            upto += 1
        if upto == len(stage):
            upto = next((i for i, agent in enumerate(stage) if not settled(agent)), upto)
        self._settled_upto = (stage, upto)
        return upto == len(stage)

    def _maybe_advance(self) -> list[Effect]:
        """Start the next stage once this one is settled and no agent of an earlier
        stage is on its way back (restarting after a crash or on request): the next
        stage's agents may call it."""
        state = self.state
        effects: list[Effect] = []
        while state.phase is JobPhase.STARTING and self._stage_settled(
            state.plan.stages[state.stage]
        ) and not any(
            state.agents[a].state in (AgentState.STARTING, AgentState.RESTARTING)
            for stage in state.plan.stages[:state.stage] for a in stage
        ):
            effects.append(
                Emit(
                    "stage.ready",
                    {"stage": state.stage + 1, "agents": list(state.plan.stages[state.stage])},
                )
            )
            if state.stage + 1 < len(state.plan.stages):
                effects.extend(self._start_stage(state.stage + 1))
            else:
                state.phase = JobPhase.RUNNING
                effects.append(
                    Emit("job.ready", {"agents": len(state.agents),
                                       "stages": len(state.plan.stages),
                                       "seconds": round(state.clock() - state.started_at, 4)})
                )
        return effects

    # ----------------------------------------------------------------- failures

    def _exited(self, message: AgentExited) -> list[Effect]:
        agent_id = message.agent_id
        agent = self.state.agents[agent_id]
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
        # An exited agent is checked no more: its health says how it ended, as the
        # live view's row does, instead of the last check's "ok".
        agent.health = (f"killed by {fields['signal']}" if "signal" in fields
                        else description)
        level = "info" if message.exit_code == 0 and message.signal is None else "warning"
        effects: list[Effect] = [Emit("agent.exited", fields, level)]
        if self.state.phase in (JobPhase.STOPPING, JobPhase.FINISHED) or agent.state in (
            AgentState.STOPPING,
            AgentState.STOPPED,
        ):
            return effects
        budget = self.state.budgets[agent_id]
        budget.record_exit(description)
        was_starting = agent.state is AgentState.STARTING
        if budget.policy.wants_restart(message.exit_code, message.signal):
            return effects + self._restart_within_budget(agent_id, f"exited again ({description})")
        if was_starting:
            reason = f"exited before it was ready ({description})"
            return effects + self._agent_failed(agent_id, reason)
        if message.exit_code == 0 and message.signal is None:
            if (
                self.state.phase is JobPhase.STARTING
                and self.state.on_failure is FailureAction.SHUTDOWN
                and self.state.plan.stage_of(agent_id) == self.state.stage
            ):
                # Its stage can never become ready now; waiting would hang start-up.
                reason = f"exited before its stage was ready ({description})"
                return effects + self._agent_failed(agent_id, reason)
            agent.state = AgentState.EXITED
            effects.extend(self._maybe_advance() if self.state.phase is JobPhase.STARTING else [])
            return effects
        return effects + self._agent_failed(agent_id, f"exited ({description})")

    def _restart_within_budget(self, agent_id: str, what: str) -> list[Effect]:
        """Schedule the next restart, or report the agent failed once the budget is spent."""
        agent = self.state.agents[agent_id]
        budget = self.state.budgets[agent_id]
        attempt = budget.next_attempt(self.state.clock())
        if attempt is None:
            reason = (
                f"restarted {budget.policy.max_restarts} times within "
                f"{budget.policy.window:g} s and {what}"
            )
            return self._agent_failed(agent_id, reason)
        delay = budget.delay(attempt)
        agent.state = AgentState.RESTARTING
        agent.restarts += 1
        self.state.note_restart(agent_id)
        return [
            Emit("agent.restarting", {"agent": agent_id, "attempt": attempt, "delay": delay}),
            Send(agent_id, RestartAgent(attempt, delay)),
        ]

    def _start_failed(self, message: AgentStartFailed) -> list[Effect]:
        agent = self.state.agents[message.agent_id]
        if agent.state in (AgentState.STOPPING, AgentState.STOPPED):
            return []
        agent.run = max(agent.run, message.run)  # launched, if not up
        if message.run > agent.first_run and self.state.phase not in (
            JobPhase.STOPPING, JobPhase.FINISHED
        ):
            # A restart that could not launch or come up (a host still unreachable, say)
            # is one more failure under the restart policy, not the end of the agent.
            budget = self.state.budgets[message.agent_id]
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
        agent = self.state.agents[message.agent_id]
        agent.health = message.error
        effects: list[Effect] = [
            Emit(
                "agent.unhealthy",
                {"agent": message.agent_id, "failures": message.failures,
                 "error": message.error, "run": message.run},
                "warning",
            )
        ]
        if agent.state is AgentState.READY and self.state.phase not in (
            JobPhase.STOPPING,
            JobPhase.FINISHED,
        ):
            agent.state = AgentState.UNHEALTHY
            reason = f"{message.failures} failed health checks in a row: {message.error}"
            effects.append(Send(message.agent_id, KillAgent(reason)))
        return effects

    def _recovered(self, message: HealthRecovered) -> list[Effect]:
        agent = self.state.agents[message.agent_id]
        agent.health = "ok"
        if agent.state is AgentState.UNHEALTHY:
            agent.state = AgentState.READY
        return []

    def _agent_failed(self, agent_id: str, reason: str) -> list[Effect]:
        agent = self.state.agents[agent_id]
        agent.state = AgentState.FAILED
        budget = self.state.budgets[agent_id]
        effects: list[Effect] = [
            Emit(
                "agent.failed",
                {"agent": agent_id, "reason": reason, "exits": list(budget.exit_history)},
                "error",
            )
        ]
        effects.extend(record_outcome(self.state.restart_waits, agent_id, f"failed: {reason}"))
        effects.extend(self._reload.outcome(agent_id, f"failed: {reason}"))
        if self.state.phase in (JobPhase.STOPPING, JobPhase.FINISHED):
            return effects  # already stopping: report it, do not start the stop over
        if self.state.on_failure is FailureAction.CONTINUE:
            if self.state.phase is JobPhase.STARTING:
                effects.extend(self._maybe_advance())
            return effects
        self.state.exit_code = EXIT_FAILED
        effects.append(
            Emit("job.failed", {"reason": f"agent {agent_id!r} failed: {reason}"}, "error")
        )
        return effects + self._shutdown.begin_stop(signal=None)

    # ----------------------------------------------------------------- stops

    def _stopped(self, message: AgentStopped) -> list[Effect]:
        """An agent has stopped: for the job's stop, a stop request, or a reload."""
        state = self.state
        agent_id = message.agent_id
        if agent_id not in state.stopping:
            return []
        state.stopping.discard(agent_id)
        state.agents[agent_id].state = AgentState.STOPPED
        state.agents[agent_id].health = None  # not checked while stopped
        fields: dict[str, Any] = {"agent": agent_id}
        if message.signal is not None:
            fields["signal"] = signal_name(message.signal)
        elif message.exit_code is not None:
            fields["exit_code"] = message.exit_code
        effects: list[Effect] = [Emit("agent.stopped", fields)]
        effects.extend(record_outcome(state.stop_waits, agent_id, "stopped"))
        if not self._reload.restarts(agent_id):
            # (A restart request of an agent the reload stops to start it again is
            # answered by its readiness under the new launch.)
            effects.extend(record_outcome(state.restart_waits, agent_id, "stopped"))
        if state.phase is JobPhase.STOPPING and not state.stopping:
            effects.extend(self._shutdown.stop_next_stage())
        elif state.phase is JobPhase.STARTING:
            effects.extend(self._maybe_advance())
        effects.extend(self._reload.stopped(agent_id))
        return effects

    # ----------------------------------------------------------------- dependents

    def _restart_waiting_dependents(self, agent_id: str) -> list[Effect]:
        """Once an agent is ready again, restart the agents that connect to it."""
        budget = self.state.budgets[agent_id]
        if not budget.policy.restart_dependents or agent_id not in self.state.pending_dependents:
            return []
        effects: list[Effect] = []
        for dependent in self.state.pending_dependents.pop(agent_id):
            state = self.state.agents[dependent].state
            if state in (AgentState.READY, AgentState.UNHEALTHY):
                self.state.agents[dependent].state = AgentState.RESTARTING
                self.state.agents[dependent].restarts += 1
                effects.append(
                    Emit("agent.restarting", {"agent": dependent, "attempt": 0, "delay": 0.0,
                                              "because": agent_id})
                )
                effects.append(Send(dependent, RestartAgent(0, 0.0)))
        return effects
