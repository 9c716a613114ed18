"""The supervisor's reload of a running job, step by step.

Functions of `SupervisorLogic` kept apart so the logic stays readable. A reload first
stops what it removes or changes (callers first), then takes the new plan and starts
what waits (callees first), and answers once every started agent has an outcome.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agentsup.actors.job_state import (
    AgentRecord,
    AgentState,
    Effect,
    Emit,
    JobPhase,
    ReloadUnderWay,
    Replace,
    Respond,
    Retire,
    Send,
)
from agentsup.messages import ReloadJob, StartAgent, StopAgent
from agentsup.plan import DeploymentPlan
from agentsup.restart import RestartBudget, RestartPolicy

if TYPE_CHECKING:
    from agentsup.actors.logic import SupervisorLogic


def requested(logic: SupervisorLogic, message: ReloadJob) -> list[Effect]:
    if logic.phase is not JobPhase.RUNNING:
        return [Respond(message.reply, 409, {
            "error": f"the job is {logic.phase.value}; reload once it is running"})]
    if logic.reload is not None:
        return [Respond(message.reply, 409, {"error": "a reload is already under way"})]
    plan: DeploymentPlan = message.plan
    new_order = [a for stage in plan.stages for a in stage]
    old_order = [a for stage in logic.plan.stages for a in stage]
    added = [a for a in new_order if a not in logic.agents]
    removed = [a for a in old_order if a not in plan.agent_urls]
    changed = [a for a in new_order
               if a in logic.agents and message.launches[a] != logic.launches.get(a)]
    restarted = [a for a in changed if running(logic, a)]
    stops = {a for a in removed if running(logic, a)} | set(restarted)
    reload = ReloadUnderWay(
        message, added, removed, changed, restarted,
        stop_queue=[[a for a in stage if a in stops]
                    for stage in reversed(logic.plan.stages)],
        to_start=[a for a in new_order if a in added or a in restarted],
    )
    logic.reload = reload
    effects: list[Effect] = [Emit("job.reloading", {
        "added": added, "removed": removed, "restarted": restarted})]
    return effects + stop_next(logic)


def running(logic: SupervisorLogic, agent_id: str) -> bool:
    return logic.agents[agent_id].state in (
        AgentState.STARTING, AgentState.READY, AgentState.UNHEALTHY, AgentState.RESTARTING)


def stop_next(logic: SupervisorLogic) -> list[Effect]:
    reload = logic.reload
    if reload is None or logic.phase is not JobPhase.RUNNING:
        return []
    while reload.stop_queue and not reload.stopping:
        members = reload.stop_queue.pop(0)
        for agent_id in members:
            logic.agents[agent_id].state = AgentState.STOPPING
            logic.stopping.add(agent_id)
            reload.stopping.add(agent_id)
        if members:
            return [Send(a, StopAgent()) for a in members]
    return switch(logic, reload)


def switch(logic: SupervisorLogic, reload: ReloadUnderWay) -> list[Effect]:
    """Every stop is done: take the new plan, replace actors, start what waits."""
    message = reload.message
    effects: list[Effect] = []
    for agent_id in reload.removed:
        effects.append(Retire(agent_id))
        del logic.agents[agent_id]
        del logic.budgets[agent_id]
        logic.held.discard(agent_id)
    logic.plan = message.plan
    logic.launches = dict(message.launches)
    for agent_id in reload.added:
        logic.agents[agent_id] = AgentRecord()
    for agent_id in reload.added + reload.changed:
        logic.budgets[agent_id] = RestartBudget(
            message.policies.get(agent_id, RestartPolicy()))
        effects.append(Replace(agent_id, message.make))
    for agent_id in reload.restarted:
        logic.agents[agent_id].state = AgentState.PENDING
        logic.agents[agent_id].restarts += 1
    logic.dependents = {a: [] for a in logic.agents}
    for caller, callees in logic.plan.peers.items():
        for callee in callees:
            logic.dependents[callee].append(caller)
    logic.pending_dependents = {}
    return effects + start_ready(logic)


def start_ready(logic: SupervisorLogic) -> list[Effect]:
    """Start each waiting agent whose peers are all ready (the ordering rule)."""
    reload = logic.reload
    if reload is None or reload.stop_queue or reload.stopping:
        return []
    effects: list[Effect] = []
    for agent_id in list(reload.to_start):
        peers = logic.plan.peers[agent_id]
        blocked = [p for p in peers if logic.agents[p].state in (
            AgentState.FAILED, AgentState.EXITED, AgentState.STOPPED)
            and not logic.settled(p)]
        if blocked:
            reload.to_start.remove(agent_id)
            reload.outcomes[agent_id] = f"not started: {blocked[0]!r} is not running"
        elif all(logic.settled(p) for p in peers):
            reload.to_start.remove(agent_id)
            reload.starting.add(agent_id)
            agent = logic.agents[agent_id]
            agent.state = AgentState.STARTING
            agent.ever_started = True
            effects.append(Emit("agent.starting", {
                "agent": agent_id, "stage": logic.plan.stage_of(agent_id) + 1}))
            effects.append(Send(agent_id, StartAgent()))
    if not reload.to_start and len(reload.outcomes) == len(reload.added) + len(
        reload.restarted
    ):
        logic.reload = None
        fields = {"added": reload.added, "removed": reload.removed,
                  "restarted": reload.restarted}
        ok = all(o == "ready" for o in reload.outcomes.values())
        effects.append(Emit("job.reloaded", fields, "info" if ok else "warning"))
        effects.append(Respond(reload.message.reply, 200,
                               {"ok": ok, **fields, "agents": dict(reload.outcomes)}))
    return effects


def outcome(logic: SupervisorLogic, agent_id: str, outcome: str) -> list[Effect]:
    reload = logic.reload
    if reload is None or agent_id not in reload.starting or agent_id in reload.outcomes:
        return []
    reload.outcomes[agent_id] = outcome
    return start_ready(logic)


def abandon(logic: SupervisorLogic) -> list[Effect]:
    reload, logic.reload = logic.reload, None
    if reload is None:
        return []
    return [Respond(reload.message.reply, 200, {
        "ok": False, "added": reload.added, "removed": reload.removed,
        "restarted": reload.restarted, "error": "the job stopped during the reload"})]
