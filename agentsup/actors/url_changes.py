"""Callers that follow an agent to its new URL.

A swarm agent's URL outside its overlay (`http://<node address>:<published port>`) is
known only once its task runs, and an agent outside the swarm that calls it is given the
URL as it was at the caller's launch (`agentsup.liveurls`). When the swarm agent comes
up on another node (a reload changed its placement, or Swarm placed a restart
elsewhere), those callers hold an address nothing answers at any more. So when an
agent is ready at a URL other than the one it was last ready at, its running callers
that were given its live URL are restarted, and their next launch gives them the new
one: a group at a time, callees first, each group once the one before is back (the
ordering rule). Callers on the swarm's overlay reach it by name and are left alone.

`UrlChanges` works on the job's `JobState`, which it shares with the logic; a reload
under way that started the agent waits for its callers too (`ReloadUnderWay.reconnected`).
"""

from __future__ import annotations

from agentsup.actors.job_state import (
    AgentState,
    Effect,
    Emit,
    JobPhase,
    JobState,
    Relaunch,
    Send,
)
from agentsup.liveurls import placeholder_agent
from agentsup.messages import RestartAgent

_RUNNING = (AgentState.STARTING, AgentState.READY, AgentState.UNHEALTHY)
"""Callers launched with the URL of the time: restarted. One that is restarting (or
waits for a reload to start it) is launched later and gets the new URL then."""


class UrlChanges:
    """The restarts of callers whose peer moved, in `state.relaunches`."""

    def __init__(self, state: JobState) -> None:
        self.state = state

    def ready_at(self, agent_id: str, url: str) -> list[Effect]:
        """`agent_id` is ready at `url`: if it was last ready elsewhere, its callers that
        were given its live URL follow it. Called before the reload hears of the agent's
        readiness, so that a reload that started it waits for them."""
        state = self.state
        agent = state.agents[agent_id]
        old, agent.last_url = agent.last_url, url
        if old is None or old == url or state.phase not in (JobPhase.STARTING,
                                                             JobPhase.RUNNING):
            return []
        queued = {c for r in state.relaunches for group in r.groups for c in group}
        callers = [
            c for c in state.dependents.get(agent_id, [])
            if c not in queued and state.agents[c].state in _RUNNING
            and placeholder_agent(state.plan.connection_map(c).get(agent_id, "")) == agent_id
        ]
        if not callers:
            return []
        stages = sorted({state.plan.stage_of(c) for c in callers})
        reload = state.reload
        state.relaunches.append(Relaunch(
            agent_id, old, url,
            groups=[[c for c in callers if state.plan.stage_of(c) == s] for s in stages],
            for_reload=reload is not None and agent_id in reload.starting,
        ))
        return self.advance()

    def advance(self) -> list[Effect]:
        """Restart the next group of each relaunch whose previous group is back (ready,
        or ended for good). The logic asks after every message while any is under way."""
        state = self.state
        if state.phase not in (JobPhase.STARTING, JobPhase.RUNNING):
            state.relaunches.clear()  # the job stops: nothing is restarted any more
            return []
        effects: list[Effect] = []
        for relaunch in list(state.relaunches):
            relaunch.restarting = {
                c for c in relaunch.restarting if c in state.agents
                and state.agents[c].state in (AgentState.RESTARTING, AgentState.STARTING)}
            while not relaunch.restarting and relaunch.groups:
                for caller in relaunch.groups.pop(0):
                    effects.extend(self._restart(relaunch, caller))
            if not relaunch.restarting and not relaunch.groups:
                state.relaunches.remove(relaunch)
        return effects

    def _restart(self, relaunch: Relaunch, caller: str) -> list[Effect]:
        state = self.state
        agent = state.agents.get(caller)
        if agent is None or agent.state not in _RUNNING:
            return []  # stopped, failed or removed meanwhile
        agent.state = AgentState.RESTARTING
        agent.restarts += 1
        relaunch.restarting.add(caller)
        reload = state.reload
        if relaunch.for_reload and reload is not None:
            reload.starting.add(caller)
            reload.outcomes.pop(caller, None)  # its readiness from now on is the outcome
            if caller not in (*reload.added, *reload.restarted, *reload.reconnected):
                reload.reconnected.append(caller)
        callee = relaunch.callee
        reason = f"the URL of {callee!r} changed from {relaunch.old_url} to {relaunch.url}"
        return [
            Emit("agent.restarting", {"agent": caller, "attempt": 0, "delay": 0.0,
                                      "because": callee, "reason": reason}),
            Send(caller, RestartAgent(0, 0.0)),
        ]
