"""The supervisor's reload of a running job, step by step.

A reload first stops what it removes or changes (callers first), then takes the new
plan and starts what waits (callees first), and answers once every started agent has
an outcome. `Reload` works on the job's `JobState`, which it shares with the logic,
and answers with effects like the logic's own handlers.
"""

from __future__ import annotations

from agentsup.actors.job_state import (
    AgentRecord,
    AgentState,
    Effect,
    Emit,
    JobPhase,
    JobState,
    ReloadUnderWay,
    Replace,
    Respond,
    Retire,
    Send,
)
from agentsup.actors.waiting import record_outcome
from agentsup.messages import ReloadJob, StartAgent, StopAgent
from agentsup.plan import DeploymentPlan
from agentsup.restart import RestartBudget, RestartPolicy


class Reload:
    """The reloads of one job: at most one under way, in `state.reload`."""

    def __init__(self, state: JobState) -> None:
        self.state = state

    def requested(self, message: ReloadJob) -> list[Effect]:
        state = self.state
        if state.phase is not JobPhase.RUNNING:
            return [Respond(message.reply, 409, {
                "error": f"the job is {state.phase.value}; reload once it is running"})]
        if state.reload is not None:
            return [Respond(message.reply, 409, {"error": "a reload is already under way"})]
        plan: DeploymentPlan = message.plan
        new_order = plan.start_order()
        old_order = state.plan.start_order()
        added = [a for a in new_order if a not in state.agents]
        removed = [a for a in old_order if a not in plan.agent_urls]
        changed = [a for a in new_order
                   if a in state.agents and message.launches[a] != state.launches.get(a)]
        restarted = [a for a in changed if self._running(a)]
        stops = {a for a in removed if self._running(a)} | set(restarted)
        reload = ReloadUnderWay(
            message, added, removed, changed, restarted,
            stop_queue=[[a for a in stage if a in stops]
                        for stage in reversed(state.plan.stages)],
            to_start=[a for a in new_order if a in added or a in restarted],
        )
        state.reload = reload
        effects: list[Effect] = [Emit("job.reloading", {
            "added": added, "removed": removed, "restarted": restarted})]
        return effects + self.stop_next()

    def _running(self, agent_id: str) -> bool:
        return self.state.agents[agent_id].state in (
            AgentState.STARTING, AgentState.READY, AgentState.UNHEALTHY, AgentState.RESTARTING)

    def stopped(self, agent_id: str) -> list[Effect]:
        """An agent has stopped: if the reload stopped it, go on with the next stops; if
        the reload was starting it (and a stop request stopped it), that is its outcome."""
        reload = self.state.reload
        if reload is None:
            return []
        if agent_id in reload.starting:
            return self.outcome(agent_id, "stopped")
        if agent_id not in reload.stopping:
            return []
        reload.stopping.discard(agent_id)
        return self.stop_next()

    def restarts(self, agent_id: str) -> bool:
        """Whether the reload is stopping `agent_id` to start it again: that stop then
        answers no restart request (its readiness under the new launch does)."""
        reload = self.state.reload
        return reload is not None and agent_id in reload.stopping and (
            agent_id in reload.restarted)

    def stop_next(self) -> list[Effect]:
        state = self.state
        reload = state.reload
        if reload is None or state.phase is not JobPhase.RUNNING:
            return []
        while reload.stop_queue and not reload.stopping:
            members = reload.stop_queue.pop(0)
            for agent_id in members:
                state.agents[agent_id].state = AgentState.STOPPING
                state.stopping.add(agent_id)
                reload.stopping.add(agent_id)
            if members:
                return [Send(a, StopAgent()) for a in members]
        if reload.stopping:
            return []  # the rest of this stage is still stopping
        return self._switch(reload)

    def _switch(self, reload: ReloadUnderWay) -> list[Effect]:
        """Every stop is done: take the new plan, replace actors, start what waits."""
        state = self.state
        message = reload.message
        effects: list[Effect] = []
        for agent_id in reload.removed:
            effects.append(Retire(agent_id))
            del state.agents[agent_id]
            del state.budgets[agent_id]
            state.held.discard(agent_id)
        state.plan = message.plan
        state.launches = dict(message.launches)
        for agent_id in reload.added:
            state.agents[agent_id] = AgentRecord()
        for agent_id in reload.added + reload.changed:
            state.budgets[agent_id] = RestartBudget(
                message.policies.get(agent_id, RestartPolicy()))
            record = state.agents[agent_id]
            # The new actor numbers its launches on from the old one's: `run` counts
            # every launch, and a restart request waits for a run after the one it saw.
            record.first_run = record.run + 1
            record.url = None
            effects.append(Replace(agent_id, message.make, record.run))
        for agent_id in reload.restarted:
            state.agents[agent_id].state = AgentState.PENDING
            state.agents[agent_id].restarts += 1
        state.find_dependents()
        state.pending_dependents = {}
        return effects + self.start_ready()

    def start_ready(self) -> list[Effect]:
        """Start each waiting agent whose peers of earlier stages are all ready (the
        ordering rule), and answer once every agent has an outcome.

        The logic asks after every message while a reload is under way: a peer may
        become ready (or end for good) outside the reload, a callee that was restarting
        or recovering from a crash when the reload came to start its caller."""
        state = self.state
        reload = state.reload
        if reload is None or reload.stop_queue or reload.stopping:
            return []
        effects: list[Effect] = []
        for agent_id in list(reload.to_start):
            # Only peers of earlier stages are waited for: agents that call each other
            # (a mesh, any cycle) share a stage and start together, as at the start.
            stage = state.plan.stage_of(agent_id)
            peers = [p for p in state.plan.peers[agent_id] if state.plan.stage_of(p) < stage]
            blocked = [p for p in peers if state.agents[p].state in (
                AgentState.FAILED, AgentState.EXITED, AgentState.STOPPED)
                and not state.settled(p)]
            if blocked:
                reload.to_start.remove(agent_id)
                outcome = f"not started: {blocked[0]!r} is not running"
                reload.outcomes[agent_id] = outcome
                # A restart request it stopped for the reload gets the same answer.
                effects.extend(record_outcome(state.restart_waits, agent_id, outcome))
            elif all(state.settled(p) for p in peers):
                reload.to_start.remove(agent_id)
                reload.starting.add(agent_id)
                agent = state.agents[agent_id]
                agent.state = AgentState.STARTING
                agent.ever_started = True
                effects.append(Emit("agent.starting", {
                    "agent": agent_id, "stage": state.plan.stage_of(agent_id) + 1}))
                effects.append(Send(agent_id, StartAgent()))
        # Callers that follow an agent it started to a new URL (`url_changes`) are part
        # of the reload: it is done once they are back too.
        following = any(r.for_reload for r in state.relaunches)
        if not reload.to_start and not following and len(reload.outcomes) == len(
            reload.added) + len(reload.restarted) + len(reload.reconnected):
            state.reload = None
            fields: dict[str, list[str]] = {
                "added": reload.added, "removed": reload.removed,
                "restarted": reload.restarted}
            ok = all(o == "ready" for o in reload.outcomes.values())
            event = {**fields, **({"reconnected": reload.reconnected}
                                  if reload.reconnected else {})}
            effects.append(Emit("job.reloaded", event, "info" if ok else "warning"))
            effects.append(Respond(reload.message.reply, 200, {
                "ok": ok, **fields, "reconnected": reload.reconnected,
                "agents": dict(reload.outcomes)}))
        return effects

    def outcome(self, agent_id: str, outcome: str) -> list[Effect]:
        """An agent the reload started is ready, failed, or was stopped on request."""
        reload = self.state.reload
        if reload is None or agent_id not in reload.starting or agent_id in reload.outcomes:
            return []
        reload.outcomes[agent_id] = outcome
        return self.start_ready()

    def abandon(self) -> list[Effect]:
        """The job stops: a reload under way is answered as not done."""
        reload, self.state.reload = self.state.reload, None
        if reload is None:
            return []
        return [Respond(reload.message.reply, 200, {
            "ok": False, "added": reload.added, "removed": reload.removed,
            "restarted": reload.restarted, "reconnected": reload.reconnected,
            "error": "the job stopped during the reload"})]
