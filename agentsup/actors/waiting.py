"""Control requests that wait for agents: answered once each named agent has an outcome.

A restart request waits for readiness, a stop request for the stop; both can also end
in a failure or in the end of the job. The logic, its control requests and its
shutdown all record outcomes here, so this module depends on `job_state` alone.
"""

from __future__ import annotations

from typing import Any

from agentsup.actors.job_state import Effect, JobState, Respond, Waiting


def record_outcome(
    waits: list[Waiting], agent_id: str | None, outcome: str, run: int | None = None
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


def answer_all_waiting(state: JobState) -> list[Effect]:
    """The job is over: whatever is still waiting is answered with what it got."""
    effects: list[Effect] = []
    for waits, said in ((state.restart_waits, "job stopped"),
                        (state.stop_waits, "stopped")):
        for waiting in waits:
            for agent_id in waiting.agents:
                waiting.outcomes.setdefault(agent_id, said)
            effects.append(Respond(waiting.reply, 200, answer(waiting)))
        waits.clear()
    return effects
