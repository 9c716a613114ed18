"""The supervisor starts the job before the agents' actors exist (`AttachAgent`).

What the logic tells an agent whose actor is not attached yet waits in the supervisor
and reaches the actor, in order, once it is; after the job has finished, a late actor
gets nothing. Real pykka actors; the agent actor is a recorder of what it is told.
"""

from __future__ import annotations

import io
import queue
from concurrent.futures import Future
from typing import Any

import pykka
import pytest

from agentsup.actors.logic import SupervisorLogic
from agentsup.actors.supervisor import JobSupervisor
from agentsup.actors.timers import TimerService
from agentsup.job.models import Strategy
from agentsup.logs import EventLog
from agentsup.messages import AgentStopped, AttachAgent, StartAgent, StartJob, StopAgent, StopJob
from agentsup.plan import DeploymentPlan


class Recorder(pykka.ThreadingActor):
    def __init__(self, told: queue.Queue[Any]) -> None:
        super().__init__()
        self.told = told

    def on_receive(self, message: Any) -> Any:
        self.told.put(message)
        return None


def _plan(*agents: str) -> DeploymentPlan:
    return DeploymentPlan(
        job="j", strategy=Strategy.STAGED, stages=(tuple(agents),),
        agent_urls={a: "http://localhost:1" for a in agents},
        connections={a: () for a in agents}, peers={a: () for a in agents},
    )


@pytest.mark.timeout(10)
def test_commands_wait_for_the_actor_and_arrive_in_order() -> None:
    logic = SupervisorLogic(_plan("a", "b"), policies={}, clock=lambda: 0.0)
    timers = TimerService()
    finished: Future[int] = Future()
    try:
        supervisor = JobSupervisor.start(logic, EventLog("j", stream=io.StringIO()), finished,
                                         timers=timers, awaiting=["a", "b"])
        supervisor.tell(StartJob())
        supervisor.tell(StopJob("SIGTERM"))  # both agents are starting: both get a stop
        told_a: queue.Queue[Any] = queue.Queue()
        supervisor.tell(AttachAgent("a", Recorder.start(told_a), "launch a"))
        assert told_a.get(timeout=5) == StartAgent()
        assert isinstance(told_a.get(timeout=5), StopAgent)
        told_b: queue.Queue[Any] = queue.Queue()
        supervisor.tell(AttachAgent("b", Recorder.start(told_b), "launch b"))
        assert told_b.get(timeout=5) == StartAgent()
        assert isinstance(told_b.get(timeout=5), StopAgent)
        assert supervisor.proxy().logic.get().launches == {"a": "launch a", "b": "launch b"}
    finally:
        pykka.ActorRegistry.stop_all()
        timers.close()


@pytest.mark.timeout(10)
def test_an_actor_attached_after_the_job_finished_is_told_nothing() -> None:
    logic = SupervisorLogic(_plan("a", "b"), policies={}, clock=lambda: 0.0)
    timers = TimerService()
    finished: Future[int] = Future()
    try:
        supervisor = JobSupervisor.start(logic, EventLog("j", stream=io.StringIO()), finished,
                                         timers=timers, awaiting=["a", "b"])
        supervisor.tell(StartJob())
        supervisor.tell(StopJob("SIGTERM"))
        told_a: queue.Queue[Any] = queue.Queue()
        supervisor.tell(AttachAgent("a", Recorder.start(told_a), ""))
        assert told_a.get(timeout=5) == StartAgent()
        assert isinstance(told_a.get(timeout=5), StopAgent)
        supervisor.tell(AgentStopped("a", None, None))
        supervisor.tell(AgentStopped("b", None, None))  # as an unattached agent would
        assert finished.result(timeout=5) == 0
        told_b: queue.Queue[Any] = queue.Queue()
        late = Recorder.start(told_b)
        supervisor.tell(AttachAgent("b", late, ""))
        supervisor.proxy().agents.get()  # the attach has been handled
        assert told_b.empty()
    finally:
        pykka.ActorRegistry.stop_all()
        timers.close()
