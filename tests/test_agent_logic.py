"""AgentLogic driven by scripted message histories and a fake clock.

No threads, no timers, no runner: every test feeds the messages the agent actor would
receive (commands from the supervisor, and the reports of its launch, probe, timer and
stop threads), in order, and reads the effects the logic answers with.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agentsup.actors.agent_effects import (
    After,
    AgentSettings,
    Cancel,
    Effect,
    FlushProbe,
    Kill,
    Launch,
    Probe,
    Report,
    Stop,
)
from agentsup.actors.agent_logic import EXIT_REPORT_GRACE, GRACE_PERIOD, AgentLogic, AgentPhase
from agentsup.job.models import EffectiveHealth, EffectiveProbe, ProbeType
from agentsup.messages import (
    AgentExited,
    AgentReady,
    AgentStarted,
    AgentStartFailed,
    AgentStopped,
    CheckHealth,
    HealthChecked,
    HealthCheckFailed,
    HealthRecovered,
    KillAgent,
    LaunchAgent,
    Launched,
    LaunchFailed,
    ProcessExited,
    RestartAgent,
    StartAgent,
    StartTimedOut,
    StopAgent,
    StopFinished,
)
from agentsup.probes.polling import Polling
from agentsup.runners.base import LaunchSpec


def probe(**fields: object) -> EffectiveProbe:
    values: dict[str, object] = {"enabled": True, "interval": 10.0, "retries": 2,
                                 "timeout": 1.0, "path": "/health", **fields}
    return EffectiveProbe(**values)  # type: ignore[arg-type]


def health(readiness: EffectiveProbe, liveness: EffectiveProbe) -> EffectiveHealth:
    return EffectiveHealth(enabled=True, interval=10.0, retries=2, timeout=1.0,
                           path="/health", readiness=readiness, liveness=liveness)


class History:
    """One agent's logic, the messages fed to it and the effects it answered with."""

    def __init__(self, *, retries: int = 2, enabled: bool = True, timeout: float = 5.0,
                 health: EffectiveHealth | None = None) -> None:
        self.now = 100.0
        self.logic = AgentLogic(
            AgentSettings(
                agent_id="a",
                url="http://localhost:9",
                health=health or EffectiveHealth(enabled=enabled, interval=10.0,
                                                 retries=retries, timeout=1.0,
                                                 path="/health"),
                start_timeout=timeout,
                spec=LaunchSpec("a", ("x",), {}, Path("."), stop_timeout=3.0),
            ),
            clock=lambda: self.now,
        )
        self.effects: list[Effect] = []

    def send(self, *messages: object) -> list[Effect]:
        answered: list[Effect] = []
        for message in messages:
            answered.extend(self.logic.handle(message))
        self.effects.extend(answered)
        return answered

    def start(self, pid: int = 1001) -> list[Effect]:
        """StartAgent, then the launch thread's report."""
        (launch,) = [e for e in self.send(StartAgent()) if isinstance(e, Launch)]
        return self.send(Launched(launch.run, pid, "localhost"))

    def ready(self) -> None:
        self.start()
        self.send(self.checked(True))

    def checked(self, ok: bool, error: str = "", name: str | None = None) -> HealthChecked:
        return HealthChecked(self.logic.generation, ok, error, name=name)

    def reports(self, kind: type | None = None) -> list[Any]:
        return [e.message for e in self.effects if isinstance(e, Report)
                and (kind is None or isinstance(e.message, kind))]


def of(effects: list[Effect], kind: type) -> list[Any]:
    return [e for e in effects if isinstance(e, kind)]


def test_a_launch_reports_and_readiness_probes_at_once_under_a_start_deadline() -> None:
    h = History()
    effects = h.send(StartAgent())
    assert of(effects, Launch) == [Launch(1, h.logic.generation, None)]
    assert h.reports() == [] and h.logic.phase is AgentPhase.LAUNCHING
    effects = h.send(Launched(1, 1001, "localhost"))
    assert h.reports() == [AgentStarted("a", 1, 1001, "localhost")]
    generation = h.logic.generation
    assert After(5.0, StartTimedOut(generation), "deadline") in effects
    assert of(effects, Probe) == [Probe(0.0, generation, readiness=True,
                                        polling=Polling(0.0, 5.0, 10.0, None))]


def test_readiness_probes_fast_then_back_off_then_liveness_every_interval() -> None:
    h = History()
    h.start()
    (first,) = of(h.send(h.checked(False, "refused")), Probe)
    assert first.delay == pytest.approx(0.01) and first.readiness
    h.now += 2.5  # past the fast period: the pause grows by half each time
    (second,) = of(h.send(h.checked(False, "refused")), Probe)
    (third,) = of(h.send(h.checked(False, "refused")), Probe)
    assert third.delay == pytest.approx(second.delay * 1.5)
    h.now += 0.05
    effects = h.send(h.checked(True))
    (ready,) = h.reports(AgentReady)
    assert ready.run == 1 and ready.seconds == pytest.approx(2.55)
    assert Cancel("deadline") in effects
    assert of(effects, Probe) == [Probe(10.0, h.logic.generation, readiness=False,
                                        quiet_passes=True)]


def test_a_readiness_probe_is_never_put_off_past_the_start_deadline() -> None:
    h = History(timeout=3.0)
    h.start()
    h.send(h.checked(False))
    h.now += 2.99
    (last,) = of(h.send(h.checked(False)), Probe)
    assert last.delay == pytest.approx(0.01)  # not the grown pause: 10 ms are left


def test_the_start_deadline_fails_the_start_even_if_no_probe_ever_answers() -> None:
    h = History(timeout=1.0)
    h.start()
    h.send(h.checked(False, "HTTP 503"))
    # the probe thread dies here: no result ever comes again
    h.now += 1.0
    generation = h.logic.generation
    assert h.send(StartTimedOut(generation)) == [FlushProbe(generation)]
    assert h.reports(AgentStartFailed) == []  # the probe loop may hold a newer reason
    effects = h.send(h.checked(False, ""))  # it held none
    (failed,) = h.reports(AgentStartFailed)
    assert failed.reason == "not ready within 1 s (last health check: HTTP 503)"
    assert Kill() in effects and h.logic.phase is AgentPhase.DOWN
    h.send(ProcessExited(1, None, 9))
    assert h.reports(AgentExited) == []  # an exit it caused itself is not news


def test_a_deadline_before_any_answer_says_so() -> None:
    h = History(timeout=1.0)
    h.start()
    h.send(StartTimedOut(h.logic.generation), h.checked(False, ""))
    (failed,) = h.reports(AgentStartFailed)
    assert failed.reason.endswith("(last health check: no health check answered)")


def test_the_deadline_gives_the_reason_the_probe_loop_kept_back() -> None:
    h = History(timeout=1.0)
    h.start()
    h.now += 1.0
    generation = h.logic.generation
    h.send(StartTimedOut(generation))
    h.send(h.checked(True))  # a pass after the deadline changes nothing
    assert h.reports(AgentReady) == []
    effects = h.send(h.checked(False, "cannot connect to localhost:9: Connection refused"))
    (failed,) = h.reports(AgentStartFailed)
    assert failed.reason == ("not ready within 1 s (last health check: cannot connect to "
                             "localhost:9: Connection refused)")
    assert Kill() in effects
    assert h.send(h.checked(False, "late")) == []  # one answer only, of a closed generation


def test_an_exec_readiness_probe_reports_every_attempt_and_times_out_at_once() -> None:
    h = History(timeout=1.0, health=health(probe(type=ProbeType.EXEC, command=["true"]),
                                           probe(type=ProbeType.EXEC, command=["true"])))
    (first,) = of(h.start(), Probe)
    assert first.polling is None
    (again,) = of(h.send(h.checked(False, "true exited with 1")), Probe)
    assert again.polling is None and again.delay == pytest.approx(0.01)
    h.now += 1.0
    effects = h.send(StartTimedOut(h.logic.generation))
    assert of(effects, FlushProbe) == []
    (failed,) = h.reports(AgentStartFailed)
    assert failed.reason.endswith("(last health check: true exited with 1)")


def test_a_result_past_the_deadline_fails_the_start_too() -> None:
    h = History(timeout=1.0)
    h.start()
    h.now += 1.5
    effects = h.send(h.checked(False, "HTTP 503"))
    (failed,) = h.reports(AgentStartFailed)
    assert "HTTP 503" in failed.reason and Kill() in effects


def test_a_deadline_of_an_older_generation_or_after_readiness_is_dropped() -> None:
    h = History(timeout=1.0)
    h.start()
    old = StartTimedOut(h.logic.generation)
    h.send(h.checked(True))
    assert h.send(old) == []
    h.send(ProcessExited(1, 1, None))
    h.send(RestartAgent(1, 0.0))
    h.send(LaunchAgent(h.logic.generation), Launched(2, 1002, "localhost"))
    assert h.send(old) == [] and h.logic.phase is AgentPhase.STARTING


def test_liveness_failures_in_a_row_report_once_and_recovery_is_reported() -> None:
    h = History(retries=2)
    h.ready()
    for _ in range(4):
        (next_probe,) = of(h.send(h.checked(False, "HTTP 500")), Probe)
        assert next_probe.delay == 10.0 and not next_probe.readiness
    assert h.reports(HealthCheckFailed) == [HealthCheckFailed("a", 1, 2, "HTTP 500")]
    h.send(h.checked(True))
    assert h.reports(HealthRecovered) == [HealthRecovered("a", 1)]
    h.send(h.checked(False), h.checked(True))
    assert len(h.reports(HealthRecovered)) == 1  # one failure is below `retries`


def test_stale_ticks_results_and_exits_from_before_a_restart_are_dropped() -> None:
    h = History()
    h.ready()
    stale_result = h.checked(True)
    stale_tick = CheckHealth(h.logic.generation)
    effects = h.send(ProcessExited(1, None, 9))
    assert h.reports(AgentExited) == [AgentExited("a", 1, None, 9)]
    assert Cancel() in effects  # the health loop of run 1 is over
    effects = h.send(RestartAgent(1, 0.5))
    (launch_later,) = of(effects, After)
    assert launch_later == After(0.5, LaunchAgent(h.logic.generation), "health")
    h.send(launch_later.message, Launched(2, 1002, "localhost"))
    assert h.send(stale_result) == []
    assert h.send(stale_tick) == []
    assert h.send(ProcessExited(1, 1, None)) == []
    assert [r.run for r in h.reports(AgentReady)] == [1]  # run 2 is not ready on old news
    h.send(h.checked(True))
    assert [r.run for r in h.reports(AgentReady)] == [1, 2]


def test_without_health_checks_ready_after_the_grace_period() -> None:
    h = History(enabled=False)
    effects = h.start()
    (grace,) = of(effects, After)
    assert grace == After(GRACE_PERIOD, CheckHealth(h.logic.generation), "health")
    assert of(effects, Probe) == []
    h.send(grace.message)
    assert len(h.reports(AgentReady)) == 1


def test_readiness_and_liveness_are_their_own_probes() -> None:
    h = History(health=health(probe(path="/ready", interval=2.0),
                              probe(path="/live", interval=30.0)))
    h.start()
    (probe_ready,) = of(h.send(h.checked(True)), Probe)
    assert probe_ready == Probe(30.0, h.logic.generation, readiness=False, quiet_passes=True)


def test_liveness_off_means_no_probe_once_ready() -> None:
    h = History(health=health(probe(), probe(enabled=False)))
    h.start()
    effects = h.send(h.checked(True))
    assert h.reports(AgentReady) and of(effects, Probe) == []
    assert Cancel("health") in effects


def test_an_a2a_card_name_is_carried_by_agent_ready() -> None:
    h = History(health=health(probe(type=ProbeType.A2A), probe(type=ProbeType.A2A)))
    h.start()
    h.send(h.checked(True, name="Weather"))
    (ready,) = h.reports(AgentReady)
    assert ready.name == "Weather"


def test_log_readiness_waits_for_the_line_under_the_deadline_and_then_probes_nothing() -> None:
    log = probe(type=ProbeType.LOG, pattern=r"model (loaded|ready)")
    h = History(health=health(log, log))
    (launch,) = of(h.send(StartAgent()), Launch)
    assert launch.log_pattern == r"model (loaded|ready)"
    effects = h.send(Launched(1, 1001, "localhost"))
    assert of(effects, Probe) == []
    assert of(effects, After) == [After(5.0, StartTimedOut(launch.generation), "deadline")]
    effects = h.send(HealthChecked(launch.generation, True, ""))  # the matching line
    assert len(h.reports(AgentReady)) == 1 and of(effects, Probe) == []
    h.send(HealthChecked(launch.generation, True, ""))
    assert len(h.reports(AgentReady)) == 1


def test_a_log_line_that_never_comes_fails_the_start() -> None:
    log = probe(type=ProbeType.LOG, pattern="^ready$")
    h = History(health=health(log, log))
    h.start()
    h.now += 5.0
    effects = h.send(StartTimedOut(h.logic.generation))
    (failed,) = h.reports(AgentStartFailed)
    assert "no output line matched '^ready$'" in failed.reason and Kill() in effects


def test_a_failed_launch_is_reported_and_leaves_the_agent_down() -> None:
    h = History()
    h.send(StartAgent())
    effects = h.send(LaunchFailed(1, "ssh: connection refused"))
    assert h.reports() == [AgentStartFailed("a", 1, "ssh: connection refused")]
    assert of(effects, Probe) == [] and h.logic.phase is AgentPhase.DOWN
    h.send(StopAgent())
    assert h.reports(AgentStopped) == [AgentStopped("a", None, None)]


def test_a_stale_launch_report_is_dropped() -> None:
    h = History()
    h.start()
    assert h.send(Launched(7, 9, "elsewhere"), LaunchFailed(7, "late")) == []
    assert len(h.reports()) == 1


def test_a_stop_while_the_launch_is_under_way_stops_the_process_once_it_is_up() -> None:
    h = History()
    h.send(StartAgent())
    assert h.send(StopAgent()) == []  # nothing to stop yet
    effects = h.send(Launched(1, 1001, "localhost"))
    assert h.reports() == [AgentStarted("a", 1, 1001, "localhost")]
    assert Stop(1, 3.0) in effects
    h.send(ProcessExited(1, None, 15), StopFinished(1))
    assert h.reports(AgentStopped) == [AgentStopped("a", None, 15)]
    assert h.reports(AgentReady) == [] and h.reports(AgentExited) == []


def test_a_kill_while_the_launch_is_under_way_kills_the_process_once_it_is_up() -> None:
    h = History()
    h.send(StartAgent(), KillAgent("unhealthy"))
    effects = h.send(Launched(1, 1001, "localhost"))
    assert Kill() in effects
    h.send(ProcessExited(1, None, 9))
    assert h.reports(AgentExited) == [AgentExited("a", 1, None, 9)]


def test_an_exit_reported_before_the_launch_is_handled_after_it() -> None:
    h = History()
    h.send(StartAgent(), ProcessExited(1, 3, None))  # the process died at once
    h.send(Launched(1, 1001, "localhost"))
    assert h.reports() == [AgentStarted("a", 1, 1001, "localhost"),
                           AgentExited("a", 1, 3, None)]


def test_a_stop_while_a_failing_launch_is_under_way_answers_after_the_failure() -> None:
    h = History()
    h.send(StartAgent(), StopAgent())
    h.send(LaunchFailed(1, "no such image"))
    assert h.reports() == [AgentStartFailed("a", 1, "no such image"),
                           AgentStopped("a", None, None)]


def test_stop_answers_with_the_exit_when_it_comes_after_the_stop_returned() -> None:
    h = History()
    h.ready()
    assert Stop(1, 3.0) in h.send(StopAgent())
    (reminder,) = of(h.send(StopFinished(1)), After)  # the runner's stop returns first
    assert reminder == After(EXIT_REPORT_GRACE, StopFinished(1))
    assert h.reports(AgentStopped) == []
    h.send(ProcessExited(1, 0, None))  # ... then its exit report arrives
    assert h.reports(AgentStopped) == [AgentStopped("a", 0, None)]
    assert h.send(reminder.message) == []  # the reminder of a completed stop
    assert h.reports(AgentExited) == []


def test_stop_answers_when_the_exit_comes_first() -> None:
    h = History()
    h.ready()
    h.send(StopAgent(), ProcessExited(1, None, 15))
    assert h.reports(AgentStopped) == []
    h.send(StopFinished(1))
    assert h.reports(AgentStopped) == [AgentStopped("a", None, 15)]


def test_stop_still_answers_if_the_exit_report_never_comes() -> None:
    h = History()
    h.ready()
    h.send(StopAgent(), StopFinished(1))
    h.send(StopFinished(1))  # the reminder falls due
    assert h.reports(AgentStopped) == [AgentStopped("a", None, None)]


def test_a_second_stop_while_stopping_does_not_start_another() -> None:
    h = History()
    h.ready()
    h.send(StopAgent())
    assert of(h.send(StopAgent()), Stop) == []
    h.send(ProcessExited(1, None, 15), StopFinished(1))
    assert len(h.reports(AgentStopped)) == 1


def test_stop_of_an_agent_that_is_not_running_answers_at_once() -> None:
    h = History()
    h.send(StopAgent())
    assert h.reports() == [AgentStopped("a", None, None)]


def test_a_restart_of_a_running_agent_stops_it_quietly_then_launches_after_the_delay() -> None:
    h = History()
    h.ready()
    assert Stop(1, 3.0) in h.send(RestartAgent(1, 0.5))
    h.send(ProcessExited(1, None, 15))
    effects = h.send(StopFinished(1))
    assert of(effects, After) == [After(0.5, LaunchAgent(h.logic.generation), "health")]
    assert h.reports(AgentExited) == [] and h.reports(AgentStopped) == []
    (launch,) = of(h.send(LaunchAgent(h.logic.generation)), Launch)
    assert launch.run == 2


def test_a_requested_stop_holds_until_a_requested_restart() -> None:
    h = History()
    h.ready()
    h.send(StopAgent(), ProcessExited(1, None, 15), StopFinished(1))
    assert h.send(RestartAgent(1, 0.0)) == []  # a policy restart keeps it stopped
    (later,) = of(h.send(RestartAgent(0, 0.0, requested=True)), After)
    (launch,) = of(h.send(later.message), Launch)
    assert launch.run == 2


def test_a_stop_during_a_restart_delay_stops_the_relaunch() -> None:
    h = History()
    h.ready()
    h.send(ProcessExited(1, 1, None))
    (later,) = of(h.send(RestartAgent(1, 5.0)), After)
    h.send(StopAgent())
    assert h.reports(AgentStopped) == [AgentStopped("a", 1, None)]
    assert h.send(later.message) == []


def test_a_kill_for_liveness_is_reported_as_an_exit() -> None:
    h = History()
    h.ready()
    assert h.send(KillAgent("unhealthy")) == [Kill()]
    h.send(ProcessExited(1, None, 9))
    assert h.reports(AgentExited) == [AgentExited("a", 1, None, 9)]


def test_a_kill_of_an_agent_that_is_not_running_does_nothing() -> None:
    h = History()
    assert h.send(KillAgent("unhealthy")) == []


def test_only_a_passed_readiness_probe_of_this_generation_needs_its_owner_checked() -> None:
    h = History()
    h.start()
    generation = h.logic.generation
    peer = (2, "127.0.0.1", 9)
    assert h.logic.checks_owner(HealthChecked(generation, True, "", peer))
    assert not h.logic.checks_owner(HealthChecked(generation, False, "", peer))
    assert not h.logic.checks_owner(HealthChecked(generation - 1, True, "", peer))
    h.send(h.checked(True))
    assert not h.logic.checks_owner(HealthChecked(generation, True, "", peer))


def _liveness_run(results: list[bool], retries: int, *, quiet: bool) -> tuple[
        list[object], list[float], tuple[int, bool]]:
    """Feed liveness results to a ready agent, as the probe loop would: every result
    (quiet=False), or, with quiet=True, keeping back each pass of a probe that asked for
    quiet passes and running that same probe again after its delay. Answers the reports,
    the times the checks ran at, and the final failure count and unhealthy flag."""
    h = History(retries=retries)
    h.ready()
    (pending,) = of(h.effects, Probe)[-1:]
    times: list[float] = []
    for number, ok in enumerate(results):
        h.now += pending.delay  # the check runs `delay` after the result that asked for it
        times.append(h.now)
        if quiet and ok and pending.quiet_passes:
            continue  # the loop keeps the pass and schedules the same probe again
        (pending,) = of(h.send(h.checked(ok, f"refused {number}")), Probe)
        assert not pending.readiness and pending.generation == h.logic.generation
    return h.reports(), times, (h.logic.failures, h.logic.reported_unhealthy)


@pytest.mark.parametrize("retries", [1, 2, 3])
@pytest.mark.parametrize("seed", range(12))
def test_quiet_passes_change_no_report_no_schedule_and_no_state(retries: int, seed: int) -> None:
    """Passes the probe loop keeps back (`Probe.quiet_passes`) must be passes that change
    nothing: the same unhealthy/recovered reports, with the same failure counts, the
    same check times and the same final state as when every result is delivered."""
    import random

    chooser = random.Random(seed)
    results = [chooser.random() < 0.6 for _ in range(60)]
    results[10:10 + retries + 1] = [False] * (retries + 1)  # an unhealthy spell for sure
    results[10 + retries + 1:10 + retries + 4] = [True] * 3  # and its recovery
    every = _liveness_run(results, retries, quiet=False)
    kept_back = _liveness_run(results, retries, quiet=True)
    assert kept_back == every
    assert any(isinstance(r, HealthCheckFailed) for r in every[0])
    assert any(isinstance(r, HealthRecovered) for r in every[0])


def test_quiet_passes_only_while_no_failure_is_counted() -> None:
    h = History(retries=2)
    h.ready()
    assert of(h.effects, Probe)[-1].quiet_passes
    (after_failure,) = of(h.send(h.checked(False, "refused")), Probe)
    assert not after_failure.quiet_passes  # the next pass resets the count: it is news
    (after_pass,) = of(h.send(h.checked(True)), Probe)
    assert after_pass.quiet_passes


def test_an_agent_replaced_by_a_reload_goes_on_counting_its_runs() -> None:
    h = History()
    h.logic = AgentLogic(h.logic.settings, clock=lambda: h.now, runs=3)
    assert [e.run for e in of(h.send(StartAgent()), Launch)] == [4]
    h.send(Launched(4, 1001, "localhost"))
    assert h.reports() == [AgentStarted("a", 4, 1001, "localhost")]
