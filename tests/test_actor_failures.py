"""An internal error in an actor ends the job instead of leaving it waiting for ever."""

from __future__ import annotations

import io
import json
from concurrent.futures import Future
from typing import Any

import pykka
import pytest

from agentsup.actors.logic import SupervisorLogic
from agentsup.actors.supervisor import JobSupervisor
from agentsup.actors.timers import TimerService
from agentsup.launches import LaunchText
from agentsup.logs import EventLog
from agentsup.messages import AgentStopped, AttachAgent, StartJob, StopJob
from agentsup.plan import DeploymentPlan, Strategy


class BrokenLogic:
    """Stands in for SupervisorLogic with a bug, to exercise the actor's safety net."""

    def handle(self, message: object) -> list[Any]:
        raise RuntimeError("boom")


@pytest.mark.timeout(10)
def test_supervisor_failure_finishes_the_job_with_exit_1() -> None:
    stream = io.StringIO()
    events = EventLog("j", stream=stream)
    finished: Future[int] = Future()
    timers = TimerService()
    try:
        ref = JobSupervisor.start(BrokenLogic(), events, finished, timers=timers)  # type: ignore[arg-type]
        ref.tell(StartJob())
        assert finished.result(timeout=5) == 1
        failed = [json.loads(line) for line in stream.getvalue().splitlines()
                  if '"job.failed"' in line]
        assert failed and "boom" in failed[0]["reason"]
    finally:
        pykka.ActorRegistry.stop_all()
        timers.close()


class DeadAgent(pykka.ThreadingActor):
    pass


@pytest.mark.timeout(10)
def test_stopping_an_agent_whose_actor_died_still_completes_the_shutdown() -> None:
    plan = DeploymentPlan(
        job="j", strategy=Strategy.STAGED, stages=(("a",),),
        agent_urls={"a": "http://localhost:1"}, connections={"a": ()}, peers={"a": ()},
    )
    logic = SupervisorLogic(plan, policies={}, clock=lambda: 0.0)
    stream = io.StringIO()
    finished: Future[int] = Future()
    timers = TimerService()
    try:
        supervisor = JobSupervisor.start(logic, EventLog("j", stream=stream), finished,
                                         timers=timers)
        dead = DeadAgent.start()
        dead.stop()
        supervisor.tell(AttachAgent("a", dead, LaunchText.known("")))
        logic.agents["a"].ever_started = True  # as if it had been started before it died
        supervisor.tell(AgentStopped("x", None, None))  # unknown agent: ignored
        supervisor.tell(StopJob("SIGTERM"))  # sends StopAgent to the dead actor
        assert finished.result(timeout=5) == 0
        assert '"job.stopped"' in stream.getvalue()
    finally:
        pykka.ActorRegistry.stop_all()
        timers.close()
