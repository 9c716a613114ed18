"""JobSupervisor: one per job; a thin shell around `SupervisorLogic`.

It receives every message from the agent actors and from the main thread, asks the
logic what to do, and carries the effects out: `tell` to agent actors, events to the
log, and the exit code to whoever waits for the job to finish.
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import Future
from typing import Any

import pykka

from agentsup.actors.logic import (
    After,
    Effect,
    Emit,
    Finish,
    Replace,
    Respond,
    Retire,
    Send,
    SupervisorLogic,
)
from agentsup.actors.refs import tell_quietly
from agentsup.actors.timers import TimerService
from agentsup.launches import LaunchText
from agentsup.logs import EventLog
from agentsup.messages import AgentStopped, AttachAgent, PublishHealth, StopAgent


class JobSupervisor(pykka.ThreadingActor):
    def __init__(
        self,
        logic: SupervisorLogic,
        events: EventLog,
        finished: Future[int],
        *,
        timers: TimerService,
        monitor_interval: float | None = None,
        awaiting: Iterable[str] = (),
    ) -> None:
        super().__init__()
        self.logic = logic
        self.events = events
        self.finished = finished
        self.timers = timers
        self.monitor_interval = monitor_interval
        self.agents: dict[str, pykka.ActorRef[Any]] = {}
        self.awaiting: dict[str, list[Any]] = {agent_id: [] for agent_id in awaiting}
        """The agents whose actors the main thread is still making, each with the
        commands the logic has given it meanwhile (`AttachAgent`)."""
        self.monitor_generation = 0

    def on_start(self) -> None:
        self._schedule_monitor()

    def on_receive(self, message: Any) -> Any:
        match message:
            case AttachAgent(agent_id=agent_id, ref=ref, launch=launch):
                self._attach(agent_id, ref, launch)
            case PublishHealth(generation=generation):
                if generation == self.monitor_generation and not self.finished.done():
                    states = self.logic.states()
                    counts: dict[str, int] = {}
                    for state in states.values():
                        counts[state] = counts.get(state, 0) + 1
                    self.events.emit("job.health", phase=self.logic.phase.value,
                                     counts=counts, agents=states)
                    self._schedule_monitor()
            case _:
                for effect in self.logic.handle(message):
                    self._apply(effect)
        return None

    def _apply(self, effect: Effect) -> None:
        match effect:
            case After(seconds=seconds, message=later):
                me = self.actor_ref
                self.timers.call_later(seconds, lambda: tell_quietly(me, later))
            case Replace(agent_id=agent_id, make=make, runs=runs):
                old = self.agents.pop(agent_id, None)
                if old is not None:
                    old.stop(block=False)
                self.agents[agent_id] = make(agent_id, runs)
            case Retire(agent_id=agent_id):
                old = self.agents.pop(agent_id, None)
                if old is not None:
                    old.stop(block=False)
            case Respond(reply=reply, status=status, body=body):
                reply(status, dict(body))  # hands the answer to the waiting server thread
            case Send(agent_id=agent_id, command=command):
                ref = self.agents.get(agent_id)
                if ref is not None:
                    self._send(agent_id, ref, command)
                elif agent_id in self.awaiting:
                    self.awaiting[agent_id].append(command)
            case Emit(event=event, fields=fields, level=level):
                self.events.emit(event, level, **fields)
            case Finish(exit_code=code):
                self.monitor_generation += 1
                if not self.finished.done():
                    self.finished.set_result(code)

    def _send(self, agent_id: str, ref: pykka.ActorRef[Any], command: Any) -> None:
        try:
            ref.tell(command)
        except pykka.ActorDeadError:
            # Its actor died of an internal error (already reported); a stop of
            # it must still complete, or shutdown would wait for ever.
            if isinstance(command, StopAgent):
                tell_quietly(self.actor_ref, AgentStopped(agent_id, None, None))

    def _attach(self, agent_id: str, ref: pykka.ActorRef[Any], launch: LaunchText) -> None:
        """Take the agent's actor and give it what the logic has told it so far, in
        order. Once the job has finished nothing is passed on: an agent attached that
        late was never launched, and must not be now."""
        self.logic.launches[agent_id] = launch
        self.agents[agent_id] = ref
        commands = self.awaiting.pop(agent_id, [])
        if self.finished.done():
            return
        for command in commands:
            self._send(agent_id, ref, command)

    def on_stop(self) -> None:
        """Agents a reload added are known only here; none may outlive the job."""
        for ref in self.agents.values():
            ref.stop(block=False)

    def on_failure(self, exception_type: Any, exception_value: Any, traceback: Any) -> None:
        """A bug in the supervisor must end the job, not leave the main thread waiting."""
        self.events.emit(
            "job.failed", "error", reason=f"internal error in the supervisor: {exception_value!r}"
        )
        if not self.finished.done():
            self.finished.set_result(1)

    def _schedule_monitor(self) -> None:
        if self.monitor_interval is None:
            return
        self.monitor_generation += 1
        message = PublishHealth(self.monitor_generation)
        ref = self.actor_ref
        self.timers.call_later(self.monitor_interval, lambda: tell_quietly(ref, message))
