"""The agent actor's health loop, replayed message by message.

The actor object is driven directly through `on_receive`, without starting its thread:
the runner, the timers and the prober are recording fakes, the clock is a number, and
messages the actor sends itself are taken from its inbox by the test. Only a stop uses
a (short-lived) thread, because a stop blocks by design; its answer is taken from the
inbox like every other message.
"""

from __future__ import annotations

import io
import queue
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from agentsup.actors.agent import AgentActor, AgentSettings
from agentsup.health import ProbeRequest, ProbeResult
from agentsup.job.models import EffectiveHealth, EffectiveProbe, ProbeType
from agentsup.logs import EventLog
from agentsup.messages import (
    AgentExited,
    AgentReady,
    AgentStarted,
    AgentStartFailed,
    AgentStopped,
    CheckHealth,
    HealthCheckFailed,
    HealthRecovered,
    KillAgent,
    ProcessExited,
    RestartAgent,
    StartAgent,
    StopAgent,
)
from agentsup.runners.base import (
    ExitCallback,
    LaunchSpec,
    OutputCallback,
    Runner,
    StartInfo,
)


class FakeRunner(Runner):
    """Records what the actor asks of its process; the test plays the process."""

    def __init__(self) -> None:
        self.starts = 0
        self.stops: list[float] = []
        self.kills = 0
        self.on_exit: ExitCallback | None = None
        self.on_output: OutputCallback | None = None

    def start(self, spec: LaunchSpec, on_output: OutputCallback, on_exit: ExitCallback
              ) -> StartInfo:
        self.starts += 1
        self.on_output, self.on_exit = on_output, on_exit
        return StartInfo(pid=1000 + self.starts, host="localhost")

    def stop(self, timeout: float) -> None:
        self.stops.append(timeout)

    def kill(self) -> None:
        self.kills += 1


@dataclass
class FakeTimer:
    delay: float
    callback: Callable[[], None]
    cancelled: bool = False

    def cancel(self) -> None:
        self.cancelled = True


@dataclass
class FakeTimers:
    scheduled: list[FakeTimer] = field(default_factory=list)

    def call_later(self, delay: float, callback: Callable[[], None]) -> FakeTimer:
        timer = FakeTimer(delay, callback)
        self.scheduled.append(timer)
        return timer

    def pending(self) -> list[FakeTimer]:
        return [t for t in self.scheduled if not t.cancelled]


@dataclass
class FakeProber:
    """Keeps its due times on the fake timers; a probe that falls due is recorded."""

    timers: FakeTimers
    probes: list[tuple[ProbeRequest, Callable[[ProbeResult], None]]] = field(
        default_factory=list)

    def schedule(self, delay: float, request: ProbeRequest,
                 done: Callable[[ProbeResult], None]) -> FakeTimer:
        return self.timers.call_later(delay, lambda: self.submit(request, done))

    def submit(self, request: ProbeRequest, done: Callable[[ProbeResult], None]) -> None:
        self.probes.append((request, done))


@dataclass
class FakeSupervisor:
    told: list[object] = field(default_factory=list)

    def tell(self, message: object) -> None:
        self.told.append(message)


class Harness:
    def __init__(self, *, retries: int = 2, enabled: bool = True, timeout: float = 5.0,
                 health: EffectiveHealth | None = None) -> None:
        self.now = 100.0
        self.runner = FakeRunner()
        self.timers = FakeTimers()
        self.prober = FakeProber(self.timers)
        self.supervisor = FakeSupervisor()
        settings = AgentSettings(
            agent_id="a",
            url="http://localhost:9",
            health=health or EffectiveHealth(enabled=enabled, interval=10.0, retries=retries,
                                             timeout=1.0, path="/health"),
            start_timeout=timeout,
            spec=LaunchSpec("a", ("x",), {}, Path("."), stop_timeout=3.0),
        )
        self.actor = AgentActor(
            settings, self.runner, self.supervisor,  # type: ignore[arg-type]
            timers=self.timers,  # type: ignore[arg-type]
            prober=self.prober,  # type: ignore[arg-type]
            events=EventLog("j", stream=io.StringIO()),
            clock=lambda: self.now,
        )

    def send(self, *messages: object) -> None:
        for message in messages:
            self.actor.on_receive(message)
        self.drain()

    def drain(self, wait: float = 0.0) -> None:
        """Deliver what the actor sent itself (timer ticks, probe results, exits)."""
        while True:
            try:
                envelope = self.actor.actor_inbox.get(timeout=wait) if wait else \
                    self.actor.actor_inbox.get_nowait()  # type: ignore[attr-defined]
            except queue.Empty:
                return
            wait = 0.0
            self.actor.on_receive(envelope.message)

    def fire(self) -> FakeTimer:
        """Run the one pending timer, as the timer thread would when it falls due."""
        (timer,) = self.timers.pending()
        timer.cancelled = True
        timer.callback()
        self.drain()
        return timer

    def answer(self, ok: bool, error: str = "", name: str | None = None) -> ProbeRequest:
        """Answer the oldest outstanding probe; return what it asked for."""
        request, done = self.prober.probes.pop(0)
        done(ProbeResult(ok, error, name=name))
        self.drain()
        return request

    def exit(self, code: int | None = None, signal: int | None = 9) -> None:
        from agentsup.runners.base import ExitStatus

        assert self.runner.on_exit is not None
        self.runner.on_exit(ExitStatus(code, signal))
        self.drain()

    def told(self, kind: type) -> list[Any]:
        return [m for m in self.supervisor.told if isinstance(m, kind)]


def test_start_probes_quickly_until_ready_then_every_interval() -> None:
    h = Harness()
    h.send(StartAgent())
    assert h.told(AgentStarted) == [AgentStarted("a", 1, 1001, "localhost")]
    assert h.fire().delay == 0.0
    request = h.prober.probes[0][0]
    assert (request.kind, request.host, request.port, request.paths, request.timeout) == (
        "http", "localhost", 9, ("/health",), 1.0)
    h.answer(False, "refused")
    assert h.fire().delay == pytest.approx(0.01)
    h.now += 0.05
    h.answer(True)
    (ready,) = h.told(AgentReady)
    assert ready.run == 1 and ready.seconds == pytest.approx(0.05)
    assert [t.delay for t in h.timers.pending()] == [10.0]
    h.fire()
    assert len(h.prober.probes) == 1  # the next liveness probe is under way


def test_retries_failures_in_a_row_report_once_and_recovery_is_reported() -> None:
    h = Harness(retries=2)
    h.send(StartAgent())
    h.fire()
    h.answer(True)
    for _ in range(4):
        h.fire()
        h.answer(False, "HTTP 500")
    assert h.told(HealthCheckFailed) == [HealthCheckFailed("a", 1, 2, "HTTP 500")]
    h.fire()
    h.answer(True)
    assert h.told(HealthRecovered) == [HealthRecovered("a", 1)]


def test_stale_ticks_and_probe_results_from_before_a_restart_are_dropped() -> None:
    h = Harness()
    h.send(StartAgent())
    h.fire()
    h.answer(True)
    old_tick = h.timers.pending()[0]
    h.fire()  # a liveness probe goes out ...
    h.exit(signal=9)  # ... and the process dies before it answers
    assert h.told(AgentExited) == [AgentExited("a", 1, None, 9)]
    assert h.timers.pending() == []  # the health loop of run 1 is over
    h.send(RestartAgent(1, 0.5))
    (launch,) = h.timers.pending()
    assert launch.delay == 0.5
    h.fire()
    assert h.runner.starts == 2
    # Leftovers of run 1: its probe answers "ok", and its old tick fires again (a timer
    # that had already fallen due when it was cancelled), sending one more probe.
    h.answer(True)
    old_tick.callback()
    h.answer(True)
    assert [r.run for r in h.told(AgentReady)] == [1]  # run 2 is not ready on old news
    assert len(h.timers.pending()) == 1  # one health loop, not two
    h.fire()
    h.answer(True)
    assert [r.run for r in h.told(AgentReady)] == [1, 2]
    assert len(h.timers.pending()) == 1


def test_an_exit_of_an_older_run_is_dropped() -> None:
    h = Harness()
    h.send(StartAgent())
    first_exit = h.runner.on_exit
    h.exit(code=1, signal=None)
    h.send(RestartAgent(1, 0.0))
    h.fire()
    assert first_exit is not None
    h.send(ProcessExited(1, 1, None))  # run 1 again: stale
    assert len(h.told(AgentExited)) == 1


def test_not_ready_in_time_fails_the_start_and_kills_the_process() -> None:
    h = Harness(timeout=1.0)
    h.send(StartAgent())
    h.fire()
    h.now += 1.5
    h.answer(False, "HTTP 503")
    (failed,) = h.told(AgentStartFailed)
    assert "not ready within 1 s" in failed.reason and "HTTP 503" in failed.reason
    assert h.runner.kills == 1
    h.exit(signal=9)
    assert h.told(AgentExited) == []  # an exit it caused itself is not news


def test_without_health_checks_ready_after_the_grace_period() -> None:
    h = Harness(enabled=False)
    h.send(StartAgent())
    timer = h.fire()
    assert timer.delay == 0.5
    assert len(h.told(AgentReady)) == 1
    assert h.prober.probes == []


def until_stopped(h: Harness) -> list[AgentStopped]:
    for _ in range(50):
        if h.told(AgentStopped):
            break
        h.drain(wait=0.1)  # the stop thread reports back through the inbox
    return h.told(AgentStopped)


def test_stop_answers_with_the_exit_even_when_it_arrives_after_the_stop_returned() -> None:
    h = Harness()
    h.send(StartAgent())
    h.send(StopAgent())
    h.drain(wait=1.0)  # the runner's stop returns first ...
    assert h.runner.stops == [3.0]
    assert h.told(AgentStopped) == []
    h.exit(code=0, signal=None)  # ... then its exit report arrives
    assert until_stopped(h) == [AgentStopped("a", 0, None)]
    assert h.told(AgentExited) == []
    (reminder,) = h.timers.pending()
    reminder.callback()  # the reminder of a completed stop changes nothing
    h.drain()
    assert len(h.told(AgentStopped)) == 1


def test_stop_answers_when_the_exit_comes_first() -> None:
    h = Harness()
    h.send(StartAgent())
    h.send(StopAgent())
    h.exit(code=None, signal=15)
    assert until_stopped(h) == [AgentStopped("a", None, 15)]


def test_stop_still_answers_if_the_exit_report_never_comes() -> None:
    h = Harness()
    h.send(StartAgent())
    h.send(StopAgent())
    h.drain(wait=1.0)
    h.fire()  # the reminder falls due
    assert h.told(AgentStopped) == [AgentStopped("a", None, None)]


def test_kill_for_liveness_is_reported_as_an_exit() -> None:
    h = Harness()
    h.send(StartAgent())
    h.send(KillAgent("unhealthy"))
    assert h.runner.kills == 1
    h.exit(signal=9)
    assert h.told(AgentExited) == [AgentExited("a", 1, None, 9)]


def test_stop_of_an_agent_that_is_not_running_answers_at_once() -> None:
    h = Harness()
    h.send(StopAgent())
    assert h.told(AgentStopped) == [AgentStopped("a", None, None)]
    assert CheckHealth not in [type(m) for m in h.supervisor.told]


def probe(**fields: object) -> EffectiveProbe:
    values: dict[str, object] = {"enabled": True, "interval": 10.0, "retries": 2,
                                 "timeout": 1.0, "path": "/health", **fields}
    return EffectiveProbe(**values)  # type: ignore[arg-type]


def health(readiness: EffectiveProbe, liveness: EffectiveProbe) -> EffectiveHealth:
    return EffectiveHealth(enabled=True, interval=10.0, retries=2, timeout=1.0,
                           path="/health", readiness=readiness, liveness=liveness)


def test_readiness_and_liveness_probe_their_own_paths() -> None:
    h = Harness(health=health(probe(path="/ready", interval=2.0),
                              probe(path="/live", interval=30.0)))
    h.send(StartAgent())
    h.fire()
    assert h.answer(False).paths == ("/ready",)
    h.fire()
    assert h.answer(True).paths == ("/ready",)
    assert [t.delay for t in h.timers.pending()] == [30.0]
    h.fire()
    assert h.answer(True).paths == ("/live",)


def test_liveness_off_means_no_probe_once_ready() -> None:
    h = Harness(health=health(probe(), probe(enabled=False)))
    h.send(StartAgent())
    h.fire()
    h.answer(True)
    assert h.told(AgentReady) and not h.timers.pending()


def test_an_a2a_card_name_is_carried_by_agent_ready() -> None:
    h = Harness(health=health(probe(type=ProbeType.A2A), probe(type=ProbeType.A2A)))
    h.send(StartAgent())
    h.fire()
    assert h.answer(True, name="Weather").kind == "a2a"
    (ready,) = h.told(AgentReady)
    assert ready.name == "Weather"


def test_log_readiness_needs_a_matching_line_and_then_no_probe() -> None:
    log = probe(type=ProbeType.LOG, pattern=r"model (loaded|ready)")
    h = Harness(health=health(log, log))
    h.send(StartAgent())
    assert [t.delay for t in h.timers.pending()] == [5.0]  # only the start timeout
    assert h.runner.on_output is not None
    h.runner.on_output("stdout", "loading weights")
    h.drain()
    assert not h.told(AgentReady)
    h.runner.on_output("stderr", "INFO model loaded in 3 s")
    h.drain()
    assert len(h.told(AgentReady)) == 1
    assert not h.timers.pending() and not h.prober.probes
    h.runner.on_output("stdout", "model ready again")
    h.drain()
    assert len(h.told(AgentReady)) == 1


def test_a_log_line_that_never_comes_fails_the_start() -> None:
    log = probe(type=ProbeType.LOG, pattern="^ready$")
    h = Harness(health=health(log, log))
    h.send(StartAgent())
    h.now += 5.0
    h.fire()
    (failed,) = h.told(AgentStartFailed)
    assert "no output line matched '^ready$'" in failed.reason
    assert h.runner.kills == 1
