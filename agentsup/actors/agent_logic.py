"""One agent's decisions, free of threads, actors and I/O.

`AgentLogic` takes the messages the agent actor receives, one at a time, and answers
with effects (`agent_effects`): launch the process, probe it, set a timer, stop or kill
it, report to the supervisor. The actor (`AgentActor`) is a thin shell that carries
the effects out; tests replay scripted message histories against the logic with a fake
clock.

Every launch gets a new `run` number and every change of health loop a new
`generation`, so a tick, probe result, exit or launch report left over from before is
recognised and dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum

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
from agentsup.job.models import EffectiveProbe, ProbeType
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
from agentsup.probes.polling import Polling, next_readiness_delay
from agentsup.runners.base import ExitStatus

EXIT_REPORT_GRACE = 2.0
"""How long a stop waits for the runner's exit report after the runner's stop returned."""

GRACE_PERIOD = 0.5
"""With health checks off, an agent is ready once it has run this long without exiting."""

POLLED = frozenset({ProbeType.HTTP, ProbeType.TCP, ProbeType.A2A})
"""Readiness probes the probe loop repeats itself after a failure (`Probe.polling`).
An exec probe runs on the exec pool and reports every attempt; a log probe is no probe."""


class AgentPhase(StrEnum):
    IDLE = "idle"
    LAUNCHING = "launching"  # the runner's start is under way on its own thread
    STARTING = "starting"  # launched, not yet ready
    READY = "ready"
    WAITING = "waiting"  # for a restart delay
    STOPPING = "stopping"
    DOWN = "down"  # no process


class AgentLogic:
    """Phases, runs and generations, the readiness schedule, liveness failures and the
    three ways a stop completes (exit first, stop first, or the exit never reported)."""

    def __init__(
        self, settings: AgentSettings, *, clock: Callable[[], float], runs: int = 0
    ) -> None:
        """`runs`: how many times the agent was launched before (by the actor a reload
        replaced); this logic's launches go on counting from there."""
        self.settings = settings
        self.clock = clock
        self.phase = AgentPhase.IDLE
        self.run = runs
        self.generation = 0
        self.alive = False
        self.expected_exit = False
        self.stop_requested = False
        self.last_exit: ExitStatus | None = None
        self.last_error = ""
        self.started_at = 0.0
        self.failures = 0
        self.reported_unhealthy = False
        self.last_delay: float | None = None
        self.timing_out = False
        """The start deadline came while the readiness probe polled: the start has timed
        out, and the probe's last failure (the reason to give) is on its way."""
        self.relaunch_delay: float | None = None
        self.stop_in_progress = False
        self.stop_returned = False
        self.deferred: list[object] = []
        """Messages that arrived while a launch was under way, handled once it reports,
        in the order they came: as if the launch had been instant."""

    @property
    def launching(self) -> bool:
        return self.phase is AgentPhase.LAUNCHING

    def checks_owner(self, message: HealthChecked) -> bool:
        """Whether a passed probe must come from a socket the agent's processes hold
        (readiness of this generation only: liveness is not worth the /proc scan)."""
        return (
            message.ok and message.peer is not None
            and message.generation == self.generation and self.phase is AgentPhase.STARTING
        )

    # ----------------------------------------------------------------- dispatch

    def handle(self, message: object) -> list[Effect]:
        if self.phase is AgentPhase.LAUNCHING and not isinstance(
            message, Launched | LaunchFailed
        ):
            self.deferred.append(message)
            return []
        match message:
            case StartAgent():
                return self._launch()
            case LaunchAgent(generation=generation):
                if generation == self.generation and self.phase is AgentPhase.WAITING:
                    return self._launch()
            case Launched(run=run) if run == self.run:
                return self._launched(message) + self._replay_deferred()
            case LaunchFailed(run=run) if run == self.run:
                return self._launch_failed(message.reason) + self._replay_deferred()
            case RestartAgent(delay=delay, requested=requested):
                if requested and self.phase is not AgentPhase.STOPPING:
                    self.stop_requested = False  # a requested restart ends a requested stop
                return self._restart(delay)
            case CheckHealth(generation=generation):
                if generation == self.generation:
                    return self._check()
            case StartTimedOut(generation=generation):
                if generation == self.generation and self.phase is AgentPhase.STARTING:
                    if self._polled() and not self.timing_out:
                        # The loop holds the last failure: ask for it, time out on it.
                        self.timing_out = True
                        return [FlushProbe(generation)]
                    return self._start_timed_out(self._timeout_error())
            case HealthChecked():
                if message.generation == self.generation:
                    return self._checked(message)
            case ProcessExited():
                if message.run == self.run:
                    return self._exited(
                        ExitStatus(message.exit_code, message.signal, message.reason)
                    )
            case StopAgent():
                return self._handle_stop()
            case StopFinished(run=run):
                if run == self.run:
                    return self._stop_finished()
            case KillAgent():
                if self.alive:
                    return [Kill()]
        return []

    def _replay_deferred(self) -> list[Effect]:
        effects: list[Effect] = []
        while self.deferred and self.phase is not AgentPhase.LAUNCHING:
            effects.extend(self.handle(self.deferred.pop(0)))
        return effects

    # ----------------------------------------------------------------- launching

    def _new_generation(self) -> list[Effect]:
        self.generation += 1
        return [Cancel()]

    def _launch(self) -> list[Effect]:
        self.run += 1
        effects = self._new_generation()
        self.expected_exit = False
        self.failures = 0
        self.reported_unhealthy = False
        self.last_delay = None
        self.timing_out = False
        self.last_exit = None
        self.last_error = ""
        self.phase = AgentPhase.LAUNCHING
        ready = self.settings.health.ready_probe()
        pattern = ready.pattern if ready.enabled and ready.type is ProbeType.LOG else None
        return [*effects, Launch(self.run, self.generation, pattern or None)]

    def _launched(self, message: Launched) -> list[Effect]:
        self.alive = True
        self.phase = AgentPhase.STARTING
        self.started_at = self.clock()
        effects: list[Effect] = [
            Report(AgentStarted(self.settings.agent_id, self.run, message.pid, message.host))
        ]
        ready = self.settings.health.ready_probe()
        generation = self.generation
        if not ready.enabled:
            effects.append(After(GRACE_PERIOD, CheckHealth(generation), "health"))
            return effects
        timeout = self.settings.start_timeout
        effects.append(After(timeout, StartTimedOut(generation), "deadline"))
        if ready.type is not ProbeType.LOG:
            effects.append(self._readiness_probe(0.0, 0.0))
        return effects

    def _launch_failed(self, reason: str) -> list[Effect]:
        self.phase = AgentPhase.DOWN
        return [Report(AgentStartFailed(self.settings.agent_id, self.run, reason))]

    def _restart(self, delay: float) -> list[Effect]:
        if self.phase is AgentPhase.STOPPING or self.stop_requested:
            return []
        if self.alive:
            # A dependent restarted on purpose: stop it quietly, then launch again.
            self.expected_exit = True
            effects = self._new_generation()
            self.phase = AgentPhase.STOPPING
            return effects + self._stop_in_background(then_launch_after=delay)
        effects = self._new_generation()
        self.phase = AgentPhase.WAITING
        return [*effects, After(delay, LaunchAgent(self.generation), "health")]

    # ----------------------------------------------------------------- health

    def _probe(self) -> EffectiveProbe:
        """The probe in force: readiness while starting, liveness once ready."""
        health = self.settings.health
        return health.ready_probe() if self.phase is AgentPhase.STARTING else health.live_probe()

    def _check(self) -> list[Effect]:
        if self.phase not in (AgentPhase.STARTING, AgentPhase.READY):
            return []
        probe = self._probe()
        if not probe.enabled:
            if self.phase is AgentPhase.STARTING:
                return self._became_ready()  # the grace period passed without an exit
            return []
        if probe.type is ProbeType.LOG:
            return []  # the start deadline has its own timer
        if self.phase is AgentPhase.STARTING:
            if self.timing_out:
                return []
            return [self._readiness_probe(0.0, self.clock() - self.started_at)]
        return [Probe(0.0, self.generation, readiness=False)]

    def _polled(self) -> bool:
        return self.settings.health.ready_probe().type in POLLED

    def _readiness_probe(self, delay: float, elapsed: float) -> Probe:
        """The next readiness probe, `elapsed` seconds after the launch; one the probe
        loop polls (`Polling`) if it is a network probe."""
        polling = None
        if self._polled():
            interval = self.settings.health.ready_probe().interval
            polling = Polling(elapsed, self.settings.start_timeout, interval, self.last_delay)
        return Probe(delay, self.generation, readiness=True, polling=polling)

    def _timeout_error(self) -> str:
        ready = self.settings.health.ready_probe()
        if ready.type is ProbeType.LOG:
            return f"no output line matched {ready.pattern!r}"
        return self.last_error or "no health check answered"

    def _checked(self, result: HealthChecked) -> list[Effect]:
        if self.phase is AgentPhase.STARTING:
            if self.timing_out:
                # Timed out already: a pass that came meanwhile changes nothing, a
                # failure (the flushed probe's) gives the reason.
                if result.ok:
                    return []
                return self._start_timed_out(result.error or self._timeout_error())
            if result.ok:
                return self._became_ready(result.name)
            self.last_error = result.error
            elapsed = self.clock() - self.started_at
            interval = self.settings.health.ready_probe().interval
            delay = next_readiness_delay(
                self.last_delay, elapsed, self.settings.start_timeout, interval)
            if delay is None:
                return self._start_timed_out(result.error)
            self.last_delay = delay
            return [self._readiness_probe(delay, elapsed)]
        if self.phase is not AgentPhase.READY:
            return []
        health = self.settings.health.live_probe()
        if not health.enabled or health.type is ProbeType.LOG:
            return []  # a log match after readiness: nothing to check
        effects: list[Effect] = []
        agent_id = self.settings.agent_id
        if result.ok:
            if self.reported_unhealthy:
                effects.append(Report(HealthRecovered(agent_id, self.run)))
            self.failures = 0
            self.reported_unhealthy = False
        else:
            self.failures += 1
            if self.failures >= health.retries and not self.reported_unhealthy:
                self.reported_unhealthy = True
                effects.append(
                    Report(HealthCheckFailed(agent_id, self.run, self.failures, result.error))
                )
        effects.append(self._liveness_probe(health.interval))
        return effects

    def _liveness_probe(self, interval: float) -> Probe:
        """The next liveness check. While no failure is counted, a pass only schedules
        this same check again: the prober may keep passes to itself (`quiet_passes`)."""
        quiet = self.failures == 0 and not self.reported_unhealthy
        return Probe(interval, self.generation, readiness=False, quiet_passes=quiet)

    def _became_ready(self, name: str | None = None) -> list[Effect]:
        self.phase = AgentPhase.READY
        seconds = self.clock() - self.started_at
        effects: list[Effect] = [
            Cancel("deadline"),
            Report(AgentReady(self.settings.agent_id, self.run, self.settings.url, seconds,
                              name)),
        ]
        live = self.settings.health.live_probe()
        if live.enabled and live.type is not ProbeType.LOG:
            effects.append(self._liveness_probe(live.interval))
        else:
            effects.append(Cancel("health"))
        return effects

    def _start_timed_out(self, error: str) -> list[Effect]:
        effects = self._new_generation()
        self.expected_exit = True
        timeout = self.settings.start_timeout
        self.phase = AgentPhase.DOWN
        reason = f"not ready within {timeout:g} s (last health check: {error})"
        return [*effects, Report(AgentStartFailed(self.settings.agent_id, self.run, reason)),
                Kill()]

    # ----------------------------------------------------------------- exits and stops

    def _exited(self, status: ExitStatus) -> list[Effect]:
        self.alive = False
        self.last_exit = status
        effects = self._new_generation()
        if self.stop_in_progress and self.stop_returned:
            return effects + self._complete_stop()
        if self.phase is AgentPhase.STOPPING or self.expected_exit:
            return effects
        self.phase = AgentPhase.DOWN
        return [*effects, Report(AgentExited(self.settings.agent_id, self.run,
                                             status.exit_code, status.signal, status.reason))]

    def _handle_stop(self) -> list[Effect]:
        already_stopping = (
            self.phase is AgentPhase.STOPPING or self.relaunch_delay is not None
        )
        self.stop_requested = True
        effects = self._new_generation()
        if already_stopping and self.alive:
            return effects  # the stop under way will answer
        if not self.alive:
            self.phase = AgentPhase.DOWN
            return [*effects, self._stopped()]
        self.phase = AgentPhase.STOPPING
        self.expected_exit = True
        return effects + self._stop_in_background(then_launch_after=None)

    def _stop_in_background(self, then_launch_after: float | None) -> list[Effect]:
        self.relaunch_delay = then_launch_after
        self.stop_in_progress = True
        self.stop_returned = False
        return [Stop(self.run, self.settings.spec.stop_timeout)]

    def _stop_finished(self) -> list[Effect]:
        if not self.stop_in_progress:
            return []  # the overdue-exit reminder of a stop that has completed
        if self.alive and not self.stop_returned:
            # The runner's stop returned, but its exit report is still on its way; wait
            # for it (or, should it never come, for a reminder) so the answer carries it.
            self.stop_returned = True
            return [After(EXIT_REPORT_GRACE, StopFinished(self.run))]
        return self._complete_stop()

    def _complete_stop(self) -> list[Effect]:
        self.stop_in_progress = False
        self.stop_returned = False
        self.alive = False
        delay = self.relaunch_delay
        self.relaunch_delay = None
        if self.stop_requested or delay is None:
            self.phase = AgentPhase.DOWN
            return [self._stopped()]
        effects = self._new_generation()
        self.phase = AgentPhase.WAITING
        return [*effects, After(delay, LaunchAgent(self.generation), "health")]

    def _stopped(self) -> Report:
        status = self.last_exit
        return Report(
            AgentStopped(
                self.settings.agent_id,
                status.exit_code if status else None,
                status.signal if status else None,
            )
        )
