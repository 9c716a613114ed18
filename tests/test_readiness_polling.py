"""Readiness attempts kept back in the probe loop lead to what reporting every attempt
leads to: AgentLogic histories on a fake clock, each played twice against a scripted
agent, once with a loop that keeps failed attempts back (`Probe.polling`) and once with
one that reports every attempt. Both must make their attempts at the same times and end
in the same reports (ready after the same seconds, the same timeout reason, the same
exit), while the first sends the actor a handful of messages instead of hundreds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from agentsup.actors.agent_effects import (
    After,
    AgentSettings,
    Cancel,
    Effect,
    FlushProbe,
    Launch,
    Probe,
    Report,
)
from agentsup.actors.agent_logic import AgentLogic
from agentsup.job.models import EffectiveHealth, EffectiveProbe, ProbeType
from agentsup.messages import (
    AgentExited,
    AgentReady,
    AgentStartFailed,
    HealthChecked,
    Launched,
    ProcessExited,
    StartAgent,
    StartTimedOut,
)
from agentsup.probes.polling import Polling
from agentsup.runners.base import LaunchSpec

REFUSED = "cannot connect to localhost:9: Connection refused"

Agent = Callable[[float], tuple[bool, str]]
"""What a probe attempt `t` seconds after the launch finds."""


def listens_from(at: float, before: str = REFUSED) -> Agent:
    return lambda t: (True, "") if t >= at else (False, before)


def health_of(kind: ProbeType, interval: float) -> EffectiveHealth:
    probe = EffectiveProbe(enabled=True, interval=interval, retries=2, timeout=1.0,
                           path="/health", type=kind)
    return EffectiveHealth(enabled=True, interval=interval, retries=2, timeout=1.0,
                           path="/health", readiness=probe, liveness=probe)


@dataclass
class Run:
    attempts: list[float] = field(default_factory=list)
    reports: list[object] = field(default_factory=list)
    told: int = 0
    """Probe results and timer messages the actor received."""


def play(agent: Agent, *, keep_back: bool, timeout: float = 5.0, interval: float = 1.0,
         exits_at: float | None = None, kind: ProbeType = ProbeType.HTTP,
         flush_latency: float = 0.0, deadline_first: bool = True) -> Run:
    """One start of the agent, the probe loop simulated by the test: with `keep_back` it
    does what `ProbeLoop` does with a polling probe (failures kept back and retried on
    `Polling.after`, the first pass or the failure at the deadline reported, the last
    failure handed over on a flush), without it every attempt is reported. An attempt
    and the deadline timer due at once come in the order `deadline_first` says."""
    now = 0.0
    logic = AgentLogic(
        AgentSettings("a", "http://localhost:9", health_of(kind, interval), timeout,
                      LaunchSpec("a", ("x",), {}, Path("."), stop_timeout=3.0)),
        clock=lambda: now,
    )
    run = Run()
    probe: tuple[float, Probe, Polling | None, float] | None = None  # due, effect, polling, asked
    deadline: tuple[float, Any] | None = None
    kept = ""
    inbox: list[tuple[float, object]] = []

    def send(message: object) -> None:
        nonlocal probe, deadline, kept
        run.told += 1
        for effect in logic.handle(message):
            apply(effect)

    def apply(effect: Effect) -> None:
        nonlocal probe, deadline, kept
        match effect:
            case Report(message=message):
                run.reports.append(message)
            case Probe(readiness=True):
                probe = (now + effect.delay, effect, effect.polling if keep_back else None, now)
                kept = ""
            case Probe():
                probe = None  # liveness: not this test's business
            case After(message=StartTimedOut() as message, seconds=seconds):
                deadline = (now + seconds, message)
            case Cancel(slot=None | "health"):
                probe = None
                if effect.slot is None:
                    deadline = None
            case Cancel(slot="deadline"):
                deadline = None
            case FlushProbe(generation=generation):
                probe = None
                inbox.append((now + flush_latency, HealthChecked(generation, False, kept)))
            case Launch():
                pass

    send(StartAgent())
    send(Launched(1, 1001, "localhost"))
    started = now
    while not any(isinstance(r, AgentReady | AgentStartFailed | AgentExited)
                  for r in run.reports):
        times = [t for t in (probe and probe[0], deadline and deadline[0], exits_at)
                 if t is not None]
        times.extend(t for t, _ in inbox)
        now = max(now, min(times))
        if inbox and inbox[0][0] <= now:
            send(inbox.pop(0)[1])
        elif exits_at is not None and exits_at <= now:
            exits_at = None
            send(ProcessExited(1, 1, None))
        elif deadline is not None and deadline[0] <= now and (
                deadline_first or probe is None or probe[0] > now):
            message = deadline[1]
            deadline = None
            send(message)
        else:
            assert probe is not None
            _, effect, polling, asked = probe
            ok, error = agent(now - started)
            run.attempts.append(round(now - started, 9))
            following = polling.after(now - asked) if polling and not ok else None
            if following is None:
                probe = None
                send(HealthChecked(effect.generation, ok, error))
            else:  # kept back, as the loop does
                kept = error
                delay, polling = following
                probe = (now + delay, effect, polling, now)
    return run


def both(agent: Agent, **options: Any) -> tuple[Run, Run]:
    kept, reported = play(agent, keep_back=True, **options), play(agent, keep_back=False,
                                                                     **options)
    assert kept.attempts == reported.attempts
    assert kept.reports == reported.reports
    return kept, reported


@pytest.mark.parametrize("kind", [ProbeType.HTTP, ProbeType.TCP, ProbeType.A2A])
def test_an_agent_that_listens_late_is_ready_after_the_same_attempts(kind: ProbeType) -> None:
    kept, reported = both(listens_from(3.2), kind=kind)
    (ready,) = [r for r in kept.reports if isinstance(r, AgentReady)]
    assert 3.2 <= ready.seconds < 3.2 + 0.5  # the backed-off pause by then is under 0.5 s
    assert len(kept.attempts) > 200  # 10 ms polls for 2 s, then backing off
    assert kept.told == 3  # start, launch, the pass
    assert reported.told == 2 + len(reported.attempts)


def test_an_agent_ready_at_once_needs_no_second_attempt() -> None:
    kept, _ = both(listens_from(0.0))
    assert kept.attempts == [0.0]


@pytest.mark.parametrize("deadline_first", [True, False])
def test_an_agent_that_never_listens_times_out_with_the_last_reason(
    deadline_first: bool,
) -> None:
    kept, _ = both(listens_from(99.0), timeout=3.0, deadline_first=deadline_first)
    (failed,) = [r for r in kept.reports if isinstance(r, AgentStartFailed)]
    assert failed.reason == f"not ready within 3 s (last health check: {REFUSED})"
    if not deadline_first:  # the last attempt runs at the deadline and ends the start
        assert kept.attempts[-1] == pytest.approx(3.0)
    assert kept.told < 6


def test_the_reason_changes_with_the_agent_and_the_last_one_is_given() -> None:
    def agent(t: float) -> tuple[bool, str]:
        return (False, REFUSED) if t < 1.0 else (False, "HTTP 503")

    kept, _ = both(agent, timeout=2.5)
    (failed,) = [r for r in kept.reports if isinstance(r, AgentStartFailed)]
    assert failed.reason.endswith("(last health check: HTTP 503)")


@pytest.mark.parametrize("latency", [0.0, 0.004, 0.05])
def test_a_deadline_timer_before_the_last_attempt_asks_the_loop_for_the_reason(
    latency: float,
) -> None:
    # A slow flush answer: the attempt at the deadline may run before it comes.
    kept, _ = both(listens_from(99.0), timeout=1.0, flush_latency=latency)
    (failed,) = [r for r in kept.reports if isinstance(r, AgentStartFailed)]
    assert failed.reason == f"not ready within 1 s (last health check: {REFUSED})"


def test_an_agent_that_exits_while_booting_is_reported_exited() -> None:
    kept, _ = both(listens_from(99.0), exits_at=0.73)
    assert kept.reports[-1] == AgentExited("a", 1, 1, None)
    assert not any(isinstance(r, AgentStartFailed) for r in kept.reports)


def test_a_long_interval_caps_the_back_off_and_the_schedule_still_matches() -> None:
    kept, _ = both(listens_from(20.0), timeout=30.0, interval=2.0)
    pauses = [b - a for a, b in zip(kept.attempts, kept.attempts[1:], strict=False)]
    assert max(pauses) == pytest.approx(2.0)
