"""The supervisor's shutdown: stages stopped in reverse start order, or all killed.

`Shutdown` works on the job's `JobState`, which it shares with the logic, and answers
with effects like the logic's own handlers. A stop abandons a reload under way (through
the `Reload` it is given) and answers every control request still waiting.
"""

from __future__ import annotations

from typing import Any

from agentsup.actors.job_state import (
    After,
    AgentState,
    Effect,
    Emit,
    Finish,
    JobPhase,
    JobState,
    Send,
)
from agentsup.actors.reload_steps import Reload
from agentsup.actors.waiting import answer_all_waiting
from agentsup.messages import KillAgent, ShutdownTimedOut, StopAgent


class Shutdown:
    """The end of one job: an ordered stop, or everything killed at once."""

    def __init__(self, state: JobState, reload: Reload) -> None:
        self.state = state
        self.reload = reload

    def stop_job(self, signal: str | None) -> list[Effect]:
        if self.state.phase in (JobPhase.STOPPING, JobPhase.FINISHED):
            return []
        return self.begin_stop(signal)

    def begin_stop(self, signal: str | None, reason: str | None = None) -> list[Effect]:
        state = self.state
        state.phase = JobPhase.STOPPING
        fields: dict[str, Any] = {"reason": reason or ("signal" if signal else "failure")}
        if signal:
            fields["signal"] = signal
        effects: list[Effect] = [Emit("job.stopping", fields)]
        if state.shutdown_timeout is not None:
            # Stage stop timeouts add up; this bounds the whole stop.
            effects.append(After(state.shutdown_timeout, ShutdownTimedOut()))
        effects.extend(self.reload.abandon())
        state.stop_queue = [
            [
                a for a in stage
                if a in state.agents and state.agents[a].ever_started
                and state.agents[a].state is not AgentState.STOPPED
            ]
            for stage in reversed(state.plan.stages)
        ]
        return effects + self.stop_next_stage()

    def stop_next_stage(self) -> list[Effect]:
        state = self.state
        while state.stop_queue and not state.stopping:
            members = state.stop_queue.pop(0)
            for agent_id in members:
                state.agents[agent_id].state = AgentState.STOPPING
                state.stopping.add(agent_id)
            if members:
                return [Send(a, StopAgent()) for a in members]
        if not state.stopping and not state.stop_queue:
            return self._finish()
        return []

    def _finish(self) -> list[Effect]:
        state = self.state
        state.phase = JobPhase.FINISHED
        return [
            *answer_all_waiting(state),
            Emit("job.stopped", {"exit_code": state.exit_code}),
            Finish(state.exit_code),
        ]

    def kill_all(self, reason: str = "kill", signal: str | None = None) -> list[Effect]:
        """Kill every agent still running at once and finish: a second signal (named in
        `signal`), or `shutdown_timeout` running out during an ordered stop."""
        state = self.state
        if state.phase is JobPhase.FINISHED:
            return []
        state.phase = JobPhase.FINISHED
        # An ordered stop cut short is not waited for: the agents it was stopping are
        # killed with the rest, and their stops' answers, which come once the killed
        # processes end, report nothing (no `agent.stopped` after a kill at once).
        state.stopping.clear()
        fields: dict[str, Any] = {"reason": reason}
        if signal:
            fields["signal"] = signal
        effects: list[Effect] = [Emit("job.stopping", fields, "warning")]
        for agent_id, agent in state.agents.items():
            if agent.ever_started and agent.state is not AgentState.STOPPED:
                effects.append(Send(agent_id, KillAgent("killed on request")))
        effects.extend(answer_all_waiting(state))
        effects.extend(self.reload.abandon())
        effects.append(Emit("job.stopped", {"exit_code": state.exit_code, "killed": True}))
        effects.append(Finish(state.exit_code))
        return effects
