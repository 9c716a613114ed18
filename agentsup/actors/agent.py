"""AgentActor: one per agent; owns its runner and its health loop.

The actor's thread never blocks on anything slow. The runner reports output and exits
from its own I/O thread, probes are timed and run on the probe thread, stops run on a
short-lived thread, and timers fire on the timer thread; each only `tell`s this actor.
Every launch gets a new `run` number and every change of health loop a new
`generation`, so a tick, probe result or exit left over from before is recognised and
dropped.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import pykka

from agentsup import liveurls
from agentsup.actors.refs import tell_quietly
from agentsup.actors.timers import TimerHandle, TimerService
from agentsup.health import (
    ProbeHandle,
    Prober,
    ProbeRequest,
    ProbeResult,
    network_request,
    readiness_delay,
)
from agentsup.job.models import EffectiveHealth, EffectiveProbe, ProbeType
from agentsup.listeners import owned_by_tree
from agentsup.logs import EventLog
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
    ProcessExited,
    RestartAgent,
    StartAgent,
    StopAgent,
    StopFinished,
)
from agentsup.runners.base import ExitStatus, LaunchSpec, Runner, RunnerError, Stream

OUTPUT_TAIL = 200
"""Characters of a failed exec check's output kept in the event."""

EXIT_REPORT_GRACE = 2.0
"""How long a stop waits for the runner's exit report after the runner's stop returned."""

GRACE_PERIOD = 0.5
"""With health checks off, an agent is ready once it has run this long without exiting."""


class Phase(StrEnum):
    IDLE = "idle"
    STARTING = "starting"
    READY = "ready"
    WAITING = "waiting"  # for a restart delay
    STOPPING = "stopping"
    DOWN = "down"  # no process


@dataclass(frozen=True)
class AgentSettings:
    agent_id: str
    url: str
    health: EffectiveHealth
    start_timeout: float
    spec: LaunchSpec
    spec_at_launch: Callable[[], LaunchSpec] | None = None
    """Builds the spec anew at each launch, for an agent given URLs that are bound only
    once their agents run (swarm agents, see `agentsup.liveurls`)."""


class AgentActor(pykka.ThreadingActor):
    def __init__(
        self,
        settings: AgentSettings,
        runner: Runner,
        supervisor: pykka.ActorRef[Any],
        *,
        timers: TimerService,
        prober: Prober,
        events: EventLog,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.runner = runner
        self.supervisor = supervisor
        self.timers = timers
        self.prober = prober
        self.events = events
        self.clock = clock
        self.phase = Phase.IDLE
        self.run = 0
        self.generation = 0
        self.alive = False
        self.expected_exit = False
        self.stop_requested = False
        self.last_exit: ExitStatus | None = None
        self.started_at = 0.0
        self.failures = 0
        self.reported_unhealthy = False
        self.last_delay: float | None = None
        self.timer: TimerHandle | ProbeHandle | None = None
        self.relaunch_delay: float | None = None
        self.stop_in_progress = False
        self.stop_returned = False
        self.requests: dict[tuple[Phase, str], ProbeRequest] = {}

    # ------------------------------------------------------------------ plumbing

    def _tell_self(self, message: object) -> None:
        tell_quietly(self.actor_ref, message)

    def _report(self, message: object) -> None:
        tell_quietly(self.supervisor, message)

    def _schedule(self, delay: float, message: object) -> None:
        if self.timer is not None:
            self.timer.cancel()
        self.timer = self.timers.call_later(delay, lambda: self._tell_self(message))

    def _probe(self) -> EffectiveProbe:
        """The probe in force: readiness while starting, liveness once ready."""
        health = self.settings.health
        return health.ready_probe() if self.phase is Phase.STARTING else health.live_probe()

    def _schedule_probe(self, delay: float) -> None:
        """Probe after `delay`: the prober keeps the time and runs the probe, and only
        its result comes back here. Liveness checks of hundreds of agents are the
        supervisor's main idle cost, and a tick through this actor would add a thread
        wake-up to each."""
        if self.timer is not None:
            self.timer.cancel()
        generation = self.generation
        tell = self._tell_self

        def done(result: ProbeResult) -> None:
            tell(HealthChecked(generation, result.ok, result.error, result.peer, result.name))

        probe = self._probe()
        if probe.type is ProbeType.EXEC:
            check = self._exec_check(probe)
            prober = self.prober
            self.timer = self.timers.call_later(delay, lambda: prober.run_exec(check, done))
            return
        url = liveurls.live(self.settings.url)  # a swarm task's address once it runs
        request = self.requests.get((self.phase, url))
        if request is None:
            try:
                request = network_request(url, probe)
            except ValueError as exc:
                done(ProbeResult(False, str(exc)))
                return
            self.requests[(self.phase, url)] = request  # the same for every check of a phase
        self.timer = self.prober.schedule(delay, request, done)

    def _exec_check(self, probe: EffectiveProbe) -> Callable[[], ProbeResult]:
        runner = self.runner
        argv = tuple(probe.command or ())
        timeout = probe.timeout

        def check() -> ProbeResult:
            if not argv:
                return ProbeResult(False, "an exec check needs 'command'")
            try:
                result = runner.execute(argv, timeout)
            except RunnerError as exc:
                return ProbeResult(False, str(exc))
            if result.exit_code == 0:
                return ProbeResult(True)
            if result.exit_code is None:
                return ProbeResult(False, f"{argv[0]} did not finish within {timeout:g} s")
            output = result.output.strip()[-OUTPUT_TAIL:]
            return ProbeResult(
                False, f"{argv[0]} exited with {result.exit_code}" + (f": {output}" if output
                                                                       else "")
            )

        return check

    def _new_generation(self) -> int:
        self.generation += 1
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        return self.generation

    def on_failure(self, exception_type: Any, exception_value: Any, traceback: Any) -> None:
        """A bug here must not leave a process unsupervised: kill it and report."""
        if self.alive:
            self.runner.kill()
        self._report(
            AgentStartFailed(
                self.settings.agent_id, self.run, f"internal error: {exception_value!r}"
            )
        )

    def on_stop(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
        if self.alive:
            self.runner.kill()

    # ------------------------------------------------------------------ messages

    def on_receive(self, message: Any) -> Any:
        match message:
            case StartAgent():
                self._launch()
            case LaunchAgent(generation=generation):
                if generation == self.generation and self.phase is Phase.WAITING:
                    self._launch()
            case RestartAgent(delay=delay, requested=requested):
                if requested and self.phase is not Phase.STOPPING:
                    self.stop_requested = False  # a requested restart ends a requested stop
                self._restart(delay)
            case CheckHealth(generation=generation):
                if generation == self.generation:
                    self._check()
            case HealthChecked():
                if message.generation == self.generation:
                    self._checked(message)
            case ProcessExited():
                if message.run == self.run:
                    self._exited(ExitStatus(message.exit_code, message.signal, message.reason))
            case StopAgent():
                self._handle_stop()
            case StopFinished(run=run):
                if run == self.run:
                    self._stop_finished()
            case KillAgent():
                if self.alive:
                    self.runner.kill()
        return None

    # ------------------------------------------------------------------ launching

    def _launch(self) -> None:
        self.run += 1
        run = self.run
        generation = self._new_generation()
        self.expected_exit = False
        self.failures = 0
        self.reported_unhealthy = False
        self.last_delay = None
        self.last_exit = None
        agent_id = self.settings.agent_id
        events = self.events
        ready = self.settings.health.ready_probe()
        wanted = (
            re.compile(ready.pattern)
            if ready.enabled and ready.type is ProbeType.LOG and ready.pattern
            else None
        )
        seen = threading.Event()
        tell = self._tell_self

        def on_output(
            stream: Stream, line: str, part: int | None = None, continued: bool = False
        ) -> None:
            events.output(agent_id, stream, line, part, continued)
            if wanted is not None and not seen.is_set() and wanted.search(line):
                seen.set()  # the first matching line makes the agent ready
                tell(HealthChecked(generation, True, ""))

        def on_exit(status: ExitStatus) -> None:
            self._tell_self(ProcessExited(run, status.exit_code, status.signal, status.reason))

        build = self.settings.spec_at_launch
        try:
            spec = self.settings.spec if build is None else build()
            info = self.runner.start(spec, on_output, on_exit)
        except RunnerError as exc:
            self.phase = Phase.DOWN
            self._report(AgentStartFailed(agent_id, run, str(exc)))
            return
        self.alive = True
        self.phase = Phase.STARTING
        self.started_at = self.clock()
        self._report(AgentStarted(agent_id, run, info.pid, info.host))
        if not ready.enabled:
            self._schedule(GRACE_PERIOD, CheckHealth(generation))
        elif ready.type is ProbeType.LOG:
            self._schedule(self.settings.start_timeout, CheckHealth(generation))
        else:
            self._schedule_probe(0.0)

    def _restart(self, delay: float) -> None:
        if self.phase is Phase.STOPPING or self.stop_requested:
            return
        if self.alive:
            # A dependent restarted on purpose: stop it quietly, then launch again.
            self.expected_exit = True
            self._new_generation()
            self.phase = Phase.STOPPING
            self._stop_in_background(then_launch_after=delay)
            return
        generation = self._new_generation()
        self.phase = Phase.WAITING
        self._schedule(delay, LaunchAgent(generation))

    # ------------------------------------------------------------------ health

    def _check(self) -> None:
        if self.phase not in (Phase.STARTING, Phase.READY):
            return
        probe = self._probe()
        if not probe.enabled:
            if self.phase is Phase.STARTING:
                self._became_ready()  # the grace period passed without an exit
        elif probe.type is ProbeType.LOG:
            if self.phase is Phase.STARTING:
                self._start_timed_out(f"no output line matched {probe.pattern!r}")
        else:
            self._schedule_probe(0.0)

    def _checked(self, result: HealthChecked) -> None:
        if self.phase is Phase.STARTING:
            result = self._owned(result)
            if result.ok:
                self._became_ready(result.name)
                return
            elapsed = self.clock() - self.started_at
            if elapsed >= self.settings.start_timeout:
                self._start_timed_out(result.error)
                return
            interval = self.settings.health.ready_probe().interval
            delay = readiness_delay(self.last_delay, elapsed, interval)
            delay = min(delay, max(self.settings.start_timeout - elapsed, 0.0))
            self.last_delay = delay
            self._schedule_probe(delay)
            return
        if self.phase is not Phase.READY:
            return
        health = self.settings.health.live_probe()
        if not health.enabled or health.type is ProbeType.LOG:
            return  # a log match after readiness: nothing to check
        if result.ok:
            if self.reported_unhealthy:
                self._report(HealthRecovered(self.settings.agent_id, self.run))
            self.failures = 0
            self.reported_unhealthy = False
        else:
            self.failures += 1
            if self.failures >= health.retries and not self.reported_unhealthy:
                self.reported_unhealthy = True
                self._report(
                    HealthCheckFailed(self.settings.agent_id, self.run, self.failures,
                                      result.error)
                )
        self._schedule_probe(health.interval)

    def _owned(self, result: HealthChecked) -> HealthChecked:
        """A passed readiness probe of a local agent counts only if the listening socket
        that answered is held by the agent's own processes: another program on the
        port must not make a dead or still-loading agent ready."""
        leader = self.runner.local_leader()
        if not result.ok or result.peer is None or leader is None:
            return result
        if owned_by_tree(leader, *result.peer) is not False:
            return result
        _, address, port = result.peer
        shown = f"[{address}]:{port}" if ":" in address else f"{address}:{port}"
        return HealthChecked(
            result.generation, False,
            f"{shown} answers, but from a socket that is not held by the agent's processes "
            f"(pid {leader} and its group); another program has the port",
        )

    def _became_ready(self, name: str | None = None) -> None:
        self.phase = Phase.READY
        seconds = self.clock() - self.started_at
        url = liveurls.live(self.settings.url)
        self._report(AgentReady(self.settings.agent_id, self.run, url, seconds, name))
        live = self.settings.health.live_probe()
        if live.enabled:
            self._schedule_probe(live.interval)
        elif self.timer is not None:  # e.g. the start timeout of a log check
            self.timer.cancel()
            self.timer = None

    def _start_timed_out(self, error: str) -> None:
        self._new_generation()
        self.expected_exit = True
        timeout = self.settings.start_timeout
        self._report(
            AgentStartFailed(
                self.settings.agent_id,
                self.run,
                f"not ready within {timeout:g} s (last health check: {error})",
            )
        )
        self.phase = Phase.DOWN
        self.runner.kill()

    # ------------------------------------------------------------------ exits and stops

    def _exited(self, status: ExitStatus) -> None:
        self.alive = False
        self.last_exit = status
        self._new_generation()
        if self.stop_in_progress and self.stop_returned:
            self._complete_stop()
            return
        if self.phase is Phase.STOPPING or self.expected_exit:
            return
        self.phase = Phase.DOWN
        self._report(
            AgentExited(
                self.settings.agent_id, self.run, status.exit_code, status.signal, status.reason
            )
        )

    def _handle_stop(self) -> None:
        already_stopping = self.phase is Phase.STOPPING or self.relaunch_delay is not None
        self.stop_requested = True
        self._new_generation()
        if already_stopping and self.alive:
            return  # the stop under way will answer
        if not self.alive:
            self.phase = Phase.DOWN
            self._reply_stopped()
            return
        self.phase = Phase.STOPPING
        self.expected_exit = True
        self._stop_in_background(then_launch_after=None)

    def _stop_in_background(self, then_launch_after: float | None) -> None:
        run = self.run
        runner = self.runner
        timeout = self.settings.spec.stop_timeout
        tell = self._tell_self
        self.relaunch_delay = then_launch_after
        self.stop_in_progress = True
        self.stop_returned = False

        def stop() -> None:
            try:
                runner.stop(timeout)
            finally:
                tell(StopFinished(run))

        threading.Thread(target=stop, name=f"stop-{self.settings.agent_id}", daemon=True).start()

    def _stop_finished(self) -> None:
        if not self.stop_in_progress:
            return  # the overdue-exit reminder of a stop that has completed
        if self.alive and not self.stop_returned:
            # The runner's stop returned, but its exit report is still on its way; wait
            # for it (or, should it never come, for a reminder) so the answer carries it.
            self.stop_returned = True
            run = self.run
            self.timers.call_later(EXIT_REPORT_GRACE, lambda: self._tell_self(StopFinished(run)))
            return
        self._complete_stop()

    def _complete_stop(self) -> None:
        self.stop_in_progress = False
        self.stop_returned = False
        self.alive = False
        delay = self.relaunch_delay
        if self.stop_requested or delay is None:
            self.relaunch_delay = None
            self.phase = Phase.DOWN
            self._reply_stopped()
            return
        self.relaunch_delay = None
        generation = self._new_generation()
        self.phase = Phase.WAITING
        self._schedule(delay, LaunchAgent(generation))

    def _reply_stopped(self) -> None:
        status = self.last_exit
        self._report(
            AgentStopped(
                self.settings.agent_id,
                status.exit_code if status else None,
                status.signal if status else None,
            )
        )
