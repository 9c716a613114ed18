"""The supervisor's shutdown: stages stopped in reverse start order, or all killed.

Functions of `SupervisorLogic` kept apart so the logic stays readable: each takes the
logic, changes it and returns effects, like the logic's own handlers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agentsup.actors import control_requests, reload_steps
from agentsup.actors.job_state import (
    After,
    AgentState,
    Effect,
    Emit,
    Finish,
    JobPhase,
    Send,
)
from agentsup.messages import AgentStopped, KillAgent, ShutdownTimedOut, StopAgent
from agentsup.signalnames import signal_name

if TYPE_CHECKING:
    from agentsup.actors.logic import SupervisorLogic


def stop_job(logic: SupervisorLogic, signal: str | None) -> list[Effect]:
    if logic.phase in (JobPhase.STOPPING, JobPhase.FINISHED):
        return []
    return begin_stop(logic, signal)


def begin_stop(
    logic: SupervisorLogic, signal: str | None, reason: str | None = None
) -> list[Effect]:
    logic.phase = JobPhase.STOPPING
    fields: dict[str, Any] = {"reason": reason or ("signal" if signal else "failure")}
    if signal:
        fields["signal"] = signal
    effects: list[Effect] = [Emit("job.stopping", fields)]
    if logic.shutdown_timeout is not None:
        # Stage stop timeouts add up; this bounds the whole stop.
        effects.append(After(logic.shutdown_timeout, ShutdownTimedOut()))
    effects.extend(reload_steps.abandon(logic))
    logic.stop_queue = [
        [
            a for a in stage
            if a in logic.agents and logic.agents[a].ever_started
            and logic.agents[a].state is not AgentState.STOPPED
        ]
        for stage in reversed(logic.plan.stages)
    ]
    return effects + stop_next_stage(logic)


def stop_next_stage(logic: SupervisorLogic) -> list[Effect]:
    while logic.stop_queue and not logic.stopping:
        members = logic.stop_queue.pop(0)
        for agent_id in members:
            logic.agents[agent_id].state = AgentState.STOPPING
            logic.stopping.add(agent_id)
        if members:
            return [Send(a, StopAgent()) for a in members]
    if not logic.stopping and not logic.stop_queue:
        return finish(logic)
    return []


def stopped(logic: SupervisorLogic, message: AgentStopped) -> list[Effect]:
    agent_id = message.agent_id
    if agent_id not in logic.stopping:
        return []
    logic.stopping.discard(agent_id)
    logic.agents[agent_id].state = AgentState.STOPPED
    fields: dict[str, Any] = {"agent": agent_id}
    if message.signal is not None:
        fields["signal"] = signal_name(message.signal)
    elif message.exit_code is not None:
        fields["exit_code"] = message.exit_code
    effects: list[Effect] = [Emit("agent.stopped", fields)]
    for waits in (logic.stop_waits, logic.restart_waits):
        effects.extend(control_requests.record_outcome(logic, waits, agent_id, "stopped"))
    if logic.phase is JobPhase.STOPPING and not logic.stopping:
        effects.extend(stop_next_stage(logic))
    elif logic.phase is JobPhase.STARTING:
        effects.extend(logic._maybe_advance())
    reload = logic.reload
    if reload is not None and agent_id in reload.stopping:
        reload.stopping.discard(agent_id)
        effects.extend(reload_steps.stop_next(logic))
    return effects


def finish(logic: SupervisorLogic) -> list[Effect]:
    logic.phase = JobPhase.FINISHED
    return [
        *control_requests.answer_all_waiting(logic),
        Emit("job.stopped", {"exit_code": logic.exit_code}),
        Finish(logic.exit_code),
    ]


def kill_all(
    logic: SupervisorLogic, reason: str = "kill", signal: str | None = None
) -> list[Effect]:
    """Kill every agent still running at once and finish: a second signal (named in
    `signal`), or `shutdown_timeout` running out during an ordered stop."""
    if logic.phase is JobPhase.FINISHED:
        return []
    logic.phase = JobPhase.FINISHED
    fields: dict[str, Any] = {"reason": reason}
    if signal:
        fields["signal"] = signal
    effects: list[Effect] = [Emit("job.stopping", fields, "warning")]
    for agent_id, agent in logic.agents.items():
        if agent.ever_started and agent.state is not AgentState.STOPPED:
            effects.append(Send(agent_id, KillAgent("killed on request")))
    effects.extend(control_requests.answer_all_waiting(logic))
    effects.extend(reload_steps.abandon(logic))
    effects.append(Emit("job.stopped", {"exit_code": logic.exit_code, "killed": True}))
    effects.append(Finish(logic.exit_code))
    return effects
