"""The supervisor's answers to control requests: status, restart, stop.

`ControlRequests` works on the job's `JobState`, which it shares with the logic, and
answers with effects like the logic's own handlers. A restart or stop request is
answered once each named agent has an outcome (`Waiting`, recorded in `waiting`); a
request to stop the whole job is the `Shutdown` it is given.
"""

from __future__ import annotations

from typing import Any

from agentsup.actors.job_state import (
    AgentState,
    Effect,
    Emit,
    JobPhase,
    JobState,
    Respond,
    Send,
    Waiting,
)
from agentsup.actors.shutdown_steps import Shutdown
from agentsup.actors.waiting import record_outcome
from agentsup.messages import RestartAgent, RestartAgents, StopAgent, StopAgents
from agentsup.messages.control import Reply


class ControlRequests:
    """What `agentsup status`, `restart` and `stop` ask of a running job."""

    def __init__(self, state: JobState, shutdown: Shutdown) -> None:
        self.state = state
        self.shutdown = shutdown

    def status(self) -> dict[str, Any]:
        state = self.state
        now = state.clock()
        agents = []
        for agent_id, agent in state.agents.items():
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
                "url": agent.url or state.plan.agent_urls.get(agent_id),
                "run": agent.run,
                "restarts": agent.restarts,
                "uptime": uptime,
                "health": agent.health,
                "stage": state.plan.stage_of(agent_id) + 1,
            })
        return {"phase": state.phase.value, "agents": agents}

    def _refuse(self, reply: Reply, agents: tuple[str, ...]) -> list[Effect] | None:
        """An answer for a request that cannot be carried out, or None when it can."""
        state = self.state
        unknown = [a for a in agents if a not in state.agents]
        if unknown:
            names = ", ".join(repr(a) for a in unknown)
            return [Respond(reply, 404, {"error": f"no agent {names} in this job"})]
        if state.phase not in (JobPhase.STARTING, JobPhase.RUNNING):
            return [Respond(reply, 409, {"error": f"the job is {state.phase.value}"})]
        for agent_id in agents:
            agent_state = state.agents[agent_id].state
            reload = state.reload
            if agent_state is AgentState.PENDING and reload is not None and (
                agent_id in reload.to_start
            ):
                return [Respond(reply, 409, {
                    "error": f"agent {agent_id!r} waits for the reload to start it"})]
            if agent_state is AgentState.PENDING:
                return [Respond(reply, 409, {
                    "error": f"agent {agent_id!r} has not been started yet (its stage is "
                             "still waiting)"})]
            if agent_state is AgentState.STOPPING:
                return [Respond(reply, 409, {"error": f"agent {agent_id!r} is stopping"})]
        return None

    def restart_requested(self, message: RestartAgents) -> list[Effect]:
        state = self.state
        agents = tuple(dict.fromkeys(message.agents))
        refused = self._refuse(message.reply, agents)
        if refused is not None:
            return refused
        if not agents:
            return [Respond(message.reply, 400, {"error": "name at least one agent"})]
        effects: list[Effect] = []
        for agent_id in agents:
            agent = state.agents[agent_id]
            state.held.discard(agent_id)
            agent.state = AgentState.RESTARTING
            agent.restarts += 1
            state.note_restart(agent_id)
            effects.append(Emit("agent.restarting", {
                "agent": agent_id, "attempt": 0, "delay": 0.0, "because": "requested"}))
            effects.append(Send(agent_id, RestartAgent(0, 0.0, requested=True)))
        state.restart_waits.append(
            Waiting(message.reply, agents, "ready", {a: state.agents[a].run for a in agents})
        )
        return effects

    def stop_requested(self, message: StopAgents) -> list[Effect]:
        state = self.state
        if not message.agents:
            if state.phase in (JobPhase.STOPPING, JobPhase.FINISHED):
                return [Respond(message.reply, 202, {"stopping": True})]
            return [*self.shutdown.begin_stop(None, reason="request"),
                    Respond(message.reply, 202, {"stopping": True})]
        agents = tuple(dict.fromkeys(message.agents))
        refused = self._refuse(message.reply, agents)
        if refused is not None:
            return refused
        effects: list[Effect] = []
        for agent_id in agents:
            agent = state.agents[agent_id]
            state.held.add(agent_id)
            if agent.state is AgentState.STOPPED:
                continue
            agent.state = AgentState.STOPPING
            state.stopping.add(agent_id)
            effects.append(Send(agent_id, StopAgent()))
        waiting = Waiting(message.reply, agents, "stopped")
        for agent_id in agents:
            if state.agents[agent_id].state is AgentState.STOPPED:
                waiting.outcomes[agent_id] = "stopped"
        state.stop_waits.append(waiting)
        effects.extend(record_outcome(state.stop_waits, None, ""))
        return effects
