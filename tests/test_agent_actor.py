"""The agent actor's shell: what it does with the effects of `AgentLogic`.

The decisions are tested as scripted histories in test_agent_logic.py. These tests run
the actor for real (its own thread, the real timer service) to check the wiring: that a
launch runs off the actor's thread and reports back, that a stop or an actor stop
reaches a process whose launch was under way, and which probe requests go out. The
runner here is a stand-in whose start blocks until the test lets it go: no real backend
can be held in the middle of its start on demand (the real backends are exercised end
to end by test_start.py, test_failures.py, test_ssh*.py and test_docker*.py). The last
test uses a real local runner, whose launch the hub thread answers, holding the hub
busy instead.
"""

from __future__ import annotations

import io
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pykka
import pytest

from agentsup.actors.agent import AgentActor, AgentSettings
from agentsup.actors.timers import TimerService
from agentsup.job.models import EffectiveHealth, EffectiveProbe
from agentsup.logs import EventLog
from agentsup.messages import (
    AgentReady,
    AgentStarted,
    AgentStartFailed,
    AgentStopped,
    StartAgent,
    StopAgent,
)
from agentsup.probes.prober import Polling, ProbeRequest, ProbeResult
from agentsup.runners.base import (
    BatchOutput,
    ExitCallback,
    ExitStatus,
    LaunchSpec,
    OutputCallback,
    Runner,
    RunnerError,
    StartInfo,
)
from agentsup.runners.lines import LineBatch
from agentsup.runners.local import LocalHub, LocalRunner

WAIT = 10.0
"""How long a test waits for news from the actor's threads before it gives up."""


class HeldRunner(Runner):
    """A process stand-in whose start blocks until `release` is set."""

    def __init__(self, *, fail: str | None = None, held: bool = True) -> None:
        self.fail = fail
        self.entered = threading.Event()
        self.release = threading.Event()
        if not held:
            self.release.set()
        self.start_thread: str | None = None
        self.stops: list[float] = []
        self.killed = threading.Event()
        self.on_exit: ExitCallback | None = None

    def start(self, spec: LaunchSpec, on_output: OutputCallback, on_exit: ExitCallback
              ) -> StartInfo:
        self.start_thread = threading.current_thread().name
        self.entered.set()
        assert self.release.wait(WAIT)
        if self.fail is not None:
            raise RunnerError(self.fail)
        self.on_exit = on_exit
        return StartInfo(pid=4242, host="localhost")

    def stop(self, timeout: float) -> None:
        self.stops.append(timeout)
        if self.on_exit is not None:
            self.on_exit(ExitStatus(None, 15))

    def kill(self) -> None:
        if self.on_exit is not None:
            self.killed.set()
            self.on_exit(ExitStatus(None, 9))


@dataclass
class Inbox:
    """The supervisor's side: what the agent actor tells it, in order."""

    messages: queue.Queue[object] = field(default_factory=queue.Queue)

    def tell(self, message: object) -> None:
        self.messages.put(message)

    def next(self, kind: type) -> Any:
        while True:
            message = self.messages.get(timeout=WAIT)
            if isinstance(message, kind):
                return message


@dataclass
class RecordingProber:
    """Records each scheduled network probe at once; the test answers it."""

    scheduled: queue.Queue[tuple[float, ProbeRequest, Callable[[ProbeResult], None]]] = field(
        default_factory=queue.Queue)

    def schedule(self, delay: float, request: ProbeRequest,
                 done: Callable[[ProbeResult], None], *, repeat: bool = False) -> object:
        self.scheduled.put((delay, request, done))
        return threading.Timer(0, lambda: None)  # not started; cancel() is harmless

    def poll(self, delay: float, request: ProbeRequest,
             done: Callable[[ProbeResult], None], polling: Polling, *,
             here: bool = False) -> object:
        """A polling readiness probe: recorded like any (the test answers every attempt,
        as a loop that keeps no failure back would)."""
        return self.schedule(delay, request, done)

    def flush(self, handle: object, done: Callable[[ProbeResult], None]) -> None:
        done(ProbeResult(False, ""))

    def next(self) -> tuple[float, ProbeRequest, Callable[[ProbeResult], None]]:
        return self.scheduled.get(timeout=WAIT)


def probe(**fields: object) -> EffectiveProbe:
    values: dict[str, object] = {"enabled": True, "interval": 10.0, "retries": 2,
                                 "timeout": 1.0, "path": "/health", **fields}
    return EffectiveProbe(**values)  # type: ignore[arg-type]


@pytest.fixture
def timers() -> Iterator[TimerService]:
    service = TimerService()
    yield service
    service.close()


def start_actor(runner: Runner, supervisor: Inbox, timers: TimerService,
                prober: RecordingProber | None = None,
                health: EffectiveHealth | None = None) -> pykka.ActorRef[Any]:
    settings = AgentSettings(
        agent_id="a",
        url="http://localhost:9",
        health=health or EffectiveHealth(enabled=True, interval=10.0, retries=2, timeout=1.0,
                                         path="/health"),
        start_timeout=60.0,
        spec=LaunchSpec("a", ("x",), {}, Path("."), stop_timeout=3.0),
    )
    return AgentActor.start(
        settings, runner, supervisor,  # type: ignore[arg-type]
        timers=timers, prober=prober or RecordingProber(),  # type: ignore[arg-type]
        events=EventLog("j", stream=io.StringIO()),
    )


def test_a_launch_runs_off_the_actor_thread_and_a_stop_sent_meanwhile_ends_the_process(
    timers: TimerService,
) -> None:
    runner, supervisor = HeldRunner(), Inbox()
    ref = start_actor(runner, supervisor, timers)
    try:
        ref.tell(StartAgent())
        assert runner.entered.wait(WAIT)
        assert ref.ask("are you there?", timeout=WAIT) is None  # not blocked by the launch
        ref.tell(StopAgent())
        runner.release.set()
        assert supervisor.next(AgentStarted) == AgentStarted("a", 1, 4242, "localhost")
        assert supervisor.next(AgentStopped) == AgentStopped("a", None, 15)
        assert runner.stops == [3.0]
        assert runner.start_thread == "launch-a"
    finally:
        runner.release.set()
        ref.stop()


def test_an_actor_stopped_during_a_launch_kills_the_process_once_it_is_up(
    timers: TimerService,
) -> None:
    runner, supervisor = HeldRunner(), Inbox()
    ref = start_actor(runner, supervisor, timers)
    ref.tell(StartAgent())
    assert runner.entered.wait(WAIT)
    ref.stop()
    runner.release.set()
    assert runner.killed.wait(WAIT)


def test_a_launch_that_fails_is_reported(timers: TimerService) -> None:
    runner, supervisor = HeldRunner(fail="no such host: gpu-9", held=False), Inbox()
    ref = start_actor(runner, supervisor, timers)
    try:
        ref.tell(StartAgent())
        assert supervisor.next(AgentStartFailed) == AgentStartFailed(
            "a", 1, "no such host: gpu-9")
    finally:
        ref.stop()


def test_readiness_and_liveness_send_their_own_requests(timers: TimerService) -> None:
    prober = RecordingProber()
    runner, supervisor = HeldRunner(held=False), Inbox()
    health = EffectiveHealth(enabled=True, interval=10.0, retries=2, timeout=1.0,
                             path="/health", readiness=probe(path="/ready", interval=2.0),
                             liveness=probe(path="/live", interval=30.0))
    ref = start_actor(runner, supervisor, timers, prober, health)
    try:
        ref.tell(StartAgent())
        delay, request, done = prober.next()
        assert (delay, request.kind, request.host, request.port, request.paths) == (
            0.0, "http", "localhost", 9, ("/ready",))
        done(ProbeResult(True))
        assert supervisor.next(AgentReady).run == 1
        delay, request, _ = prober.next()
        assert (delay, request.paths) == (30.0, ("/live",))
    finally:
        ref.stop()


def test_a_local_launch_answered_after_the_actor_stopped_kills_the_process(
    timers: TimerService, tmp_path: Path,
) -> None:
    """A local agent's launch has no thread of its own: the hub thread forks it and
    answers (`Runner.start_soon`). Here the hub is held busy while the actor is stopped,
    so the answer comes after the stop, on the hub thread; the process it started must
    be killed then, as a launch thread would have done. Real processes, a real hub."""
    hub = LocalHub()
    hold, holding = threading.Event(), threading.Event()

    def block_the_hub(stream: str, batch: LineBatch) -> None:
        holding.set()
        hold.wait(WAIT)  # on the hub thread: no spawn is answered meanwhile

    blocker = LocalRunner(hub)
    blocker.start(LaunchSpec("b", (sys.executable, "-c", "print('x'); import time; "
                                   "time.sleep(30)"), {}, tmp_path),
                  BatchOutput(block_the_hub), lambda status: None)
    runner = LocalRunner(hub)
    settings = AgentSettings(
        agent_id="a", url="http://localhost:9",
        health=EffectiveHealth(enabled=True, interval=10.0, retries=2, timeout=1.0,
                               path="/health"),
        start_timeout=60.0,
        spec=LaunchSpec("a", (sys.executable, "-c", "import time; time.sleep(30)"), {},
                        tmp_path),
    )
    ref = AgentActor.start(settings, runner, Inbox(),  # type: ignore[arg-type]
                           timers=timers, prober=RecordingProber(),  # type: ignore[arg-type]
                           events=EventLog("j", stream=io.StringIO()))
    try:
        assert holding.wait(WAIT)
        threads_before = {thread.name for thread in threading.enumerate()}
        ref.tell(StartAgent())
        ref.ask("are you there?", timeout=WAIT)  # the launch is asked for by now
        assert not [name for name in {t.name for t in threading.enumerate()} - threads_before
                    if name.startswith("launch-")]
        ref.stop()
        hold.set()  # the hub spawns the agent now and answers a stopped actor
        deadline = time.monotonic() + WAIT
        while runner.pid is None:
            assert time.monotonic() < deadline, "the agent was never spawned"
            time.sleep(0.01)
        while runner.local_leader() is not None:  # killed by the answer's callback
            assert time.monotonic() < deadline, "the agent outlived its stopped actor"
            time.sleep(0.01)
    finally:
        hold.set()
        blocker.kill()
        runner.kill()
        hub.close()
