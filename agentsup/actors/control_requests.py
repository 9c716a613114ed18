"""The supervisor's answers to control requests: status, restart, stop.

Functions of `SupervisorLogic` kept apart so the logic stays readable: each takes the
logic, changes it and returns effects, like the logic's own handlers. A restart or stop
request is answered once each named agent has an outcome (`Waiting`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agentsup.actors import shutdown_steps
from agentsup.actors.job_state import AgentState, Effect, Emit, JobPhase, Respond, Send, Waiting
from agentsup.messages import RestartAgent, RestartAgents, StopAgent, StopAgents
from agentsup.messages.control import Reply

if TYPE_CHECKING:
    from agentsup.actors.logic import SupervisorLogic


def status(logic: SupervisorLogic) -> dict[str, Any]:
    now = logic.clock()
    agents = []
    for agent_id, agent in logic.agents.items():
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
            "url": logic.plan.agent_urls.get(agent_id),
            "run": agent.run,
            "restarts": agent.restarts,
            "uptime": uptime,
            "health": agent.health,
            "stage": logic.plan.stage_of(agent_id) + 1,
        })
    return {"phase": logic.phase.value, "agents": agents}


def refuse(logic: SupervisorLogic, reply: Reply, agents: tuple[str, ...]) -> list[Effect] | None:
    """An answer for a request that cannot be carried out, or None when it can."""
    unknown = [a for a in agents if a not in logic.agents]
    if unknown:
        names = ", ".join(repr(a) for a in unknown)
        return [Respond(reply, 404, {"error": f"no agent {names} in this job"})]
    if logic.phase not in (JobPhase.STARTING, JobPhase.RUNNING):
        return [Respond(reply, 409, {"error": f"the job is {logic.phase.value}"})]
    for agent_id in agents:
        state = logic.agents[agent_id].state
        if state is AgentState.PENDING:
            return [Respond(reply, 409, {
                "error": f"agent {agent_id!r} has not been started yet (its stage is "
                         "still waiting)"})]
        if state is AgentState.STOPPING:
            return [Respond(reply, 409, {"error": f"agent {agent_id!r} is stopping"})]
    return None


def restart_requested(logic: SupervisorLogic, message: RestartAgents) -> list[Effect]:
    agents = tuple(dict.fromkeys(message.agents))
    refused = refuse(logic, message.reply, agents)
    if refused is not None:
        return refused
    if not agents:
        return [Respond(message.reply, 400, {"error": "name at least one agent"})]
    effects: list[Effect] = []
    for agent_id in agents:
        agent = logic.agents[agent_id]
        logic.held.discard(agent_id)
        agent.state = AgentState.RESTARTING
        agent.restarts += 1
        logic.note_restart(agent_id)
        effects.append(Emit("agent.restarting", {
            "agent": agent_id, "attempt": 0, "delay": 0.0, "because": "requested"}))
        effects.append(Send(agent_id, RestartAgent(0, 0.0, requested=True)))
    logic.restart_waits.append(
        Waiting(message.reply, agents, "ready", {a: logic.agents[a].run for a in agents})
    )
    return effects


def stop_requested(logic: SupervisorLogic, message: StopAgents) -> list[Effect]:
    if not message.agents:
        if logic.phase in (JobPhase.STOPPING, JobPhase.FINISHED):
            return [Respond(message.reply, 202, {"stopping": True})]
        return [*shutdown_steps.begin_stop(logic, None, reason="request"),
                Respond(message.reply, 202, {"stopping": True})]
    agents = tuple(dict.fromkeys(message.agents))
    refused = refuse(logic, message.reply, agents)
    if refused is not None:
        return refused
    effects: list[Effect] = []
    for agent_id in agents:
        agent = logic.agents[agent_id]
        logic.held.add(agent_id)
        if agent.state is AgentState.STOPPED:
            continue
        agent.state = AgentState.STOPPING
        logic.stopping.add(agent_id)
        effects.append(Send(agent_id, StopAgent()))
    waiting = Waiting(message.reply, agents, "stopped")
    for agent_id in agents:
        if logic.agents[agent_id].state is AgentState.STOPPED:
            waiting.outcomes[agent_id] = "stopped"
    logic.stop_waits.append(waiting)
    effects.extend(record_outcome(logic, logic.stop_waits, None, ""))
    return effects


def record_outcome(
    logic: SupervisorLogic, waits: list[Waiting], agent_id: str | None, outcome: str,
    run: int | None = None,
) -> list[Effect]:
    """Record `outcome` for `agent_id` and answer every request now complete."""
    effects: list[Effect] = []
    for waiting in list(waits):
        counts = run is None or run > waiting.after_run.get(agent_id or "", 0)
        if agent_id in waiting.agents and agent_id not in waiting.outcomes and counts:
            waiting.outcomes[agent_id] = outcome
        if len(waiting.outcomes) == len(waiting.agents):
            waits.remove(waiting)
            effects.append(Respond(waiting.reply, 200, answer(waiting)))
    return effects


def answer(waiting: Waiting) -> dict[str, Any]:
    outcomes = {a: waiting.outcomes.get(a, "unknown") for a in waiting.agents}
    return {"ok": all(o == waiting.success for o in outcomes.values()), "agents": outcomes}


def answer_all_waiting(logic: SupervisorLogic) -> list[Effect]:
    """The job is over: whatever is still waiting is answered with what it got."""
    effects: list[Effect] = []
    for waits, said in ((logic.restart_waits, "job stopped"),
                           (logic.stop_waits, "stopped")):
        for waiting in waits:
            for agent_id in waiting.agents:
                waiting.outcomes.setdefault(agent_id, said)
            effects.append(Respond(waiting.reply, 200, answer(waiting)))
        waits.clear()
    return effects
