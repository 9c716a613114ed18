"""The supervisor starts the job before the agents' actors exist (`AttachAgent`).

What the logic tells an agent whose actor is not attached yet waits in the supervisor
and reaches the actor, in order, once it is; after the job has finished, a late actor
gets nothing. Real pykka actors; the agent actor is a recorder of what it is told.
"""

from __future__ import annotations

import io
import queue
from collections.abc import Iterator
from concurrent.futures import Future
from typing import Any

import pykka
import pytest

from agentsup.actors.logic import SupervisorLogic
from agentsup.actors.supervisor import JobSupervisor
from agentsup.actors.timers import TimerService
from agentsup.job.models import Strategy
from agentsup.launches import LaunchText
from agentsup.logs import EventLog
from agentsup.messages import AgentStopped, AttachAgent, StartAgent, StartJob, StopAgent, StopJob
from agentsup.plan import DeploymentPlan
from tests.recorder import Recorder


def _plan(*agents: str) -> DeploymentPlan:
    return DeploymentPlan(
        job="j", strategy=Strategy.STAGED, stages=(tuple(agents),),
        agent_urls={a: "http://localhost:1" for a in agents},
        connections={a: () for a in agents}, peers={a: () for a in agents},
    )


Stopping = tuple[pykka.ActorRef[Any], Future[int]]


@pytest.fixture
def stopping() -> Iterator[Stopping]:
    """A supervisor for agents `a` and `b`, neither attached, told to start and then to
    stop (SIGTERM) while both are starting: each is owed a `StartAgent` and a
    `StopAgent`. Yields it and the Future of its exit code."""
    logic = SupervisorLogic(_plan("a", "b"), policies={}, clock=lambda: 0.0)
    timers = TimerService()
    finished: Future[int] = Future()
    try:
        supervisor = JobSupervisor.start(logic, EventLog("j", stream=io.StringIO()), finished,
                                         timers=timers, awaiting=["a", "b"])
        supervisor.tell(StartJob())
        supervisor.tell(StopJob("SIGTERM"))
        yield supervisor, finished
    finally:
        pykka.ActorRegistry.stop_all()
        timers.close()


def _attach(supervisor: pykka.ActorRef[Any], agent_id: str, launch: str) -> queue.Queue[Any]:
    told: queue.Queue[Any] = queue.Queue()
    supervisor.tell(AttachAgent(agent_id, Recorder.start(told), LaunchText.known(launch)))
    return told


@pytest.mark.timeout(10)
def test_commands_wait_for_the_actor_and_arrive_in_order(stopping: Stopping) -> None:
    supervisor, _ = stopping
    for agent_id in ("a", "b"):
        told = _attach(supervisor, agent_id, f"launch {agent_id}")
        assert told.get(timeout=5) == StartAgent()
        assert isinstance(told.get(timeout=5), StopAgent)
    launches = supervisor.proxy().logic.get().launches
    assert {agent_id: launch.text for agent_id, launch in launches.items()} == {
        "a": "launch a", "b": "launch b"}


@pytest.mark.timeout(10)
def test_an_actor_attached_after_the_job_finished_is_told_nothing(stopping: Stopping) -> None:
    supervisor, finished = stopping
    told_a = _attach(supervisor, "a", "")
    assert told_a.get(timeout=5) == StartAgent()
    assert isinstance(told_a.get(timeout=5), StopAgent)
    supervisor.tell(AgentStopped("a", None, None))
    supervisor.tell(AgentStopped("b", None, None))  # as an unattached agent would
    assert finished.result(timeout=5) == 0
    told_b = _attach(supervisor, "b", "")
    supervisor.proxy().agents.get()  # the attach has been handled
    assert told_b.empty()
