"""AgentActor: one per agent; a thin shell around `AgentLogic`.

It receives the supervisor's commands and the reports of its own helper threads, asks
the logic what to do, and carries the effects out. The actor's thread never blocks on
anything slow: launches run on a short-lived thread (an SSH start can take tens of
seconds, a Docker start makes Engine calls), stops on another, probes on the probe
thread, and timers fire on the timer thread; each only `tell`s this actor, which is how
their news comes back (`Launched`, `ProcessExited`, `HealthChecked`, `StopFinished`).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

import msgspec
import pykka

from agentsup import liveurls
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
    Slot,
    Stop,
)
from agentsup.actors.agent_logic import AgentLogic
from agentsup.actors.refs import tell_quietly
from agentsup.actors.timers import TimerHandle, TimerService
from agentsup.job.models import EffectiveProbe, ProbeType
from agentsup.logs import EventLog
from agentsup.messages import (
    AgentReady,
    AgentStartFailed,
    HealthChecked,
    Launched,
    LaunchFailed,
    ProcessExited,
    StopFinished,
)
from agentsup.probes.owners import owned_by_tree
from agentsup.probes.prober import ProbeHandle, Prober, ProbeRequest, ProbeResult, network_request
from agentsup.runners.base import (
    BatchOutput,
    ExitStatus,
    Runner,
    RunnerError,
    StartInfo,
    Stream,
)
from agentsup.runners.lines import LineBatch

__all__ = ["AgentActor", "AgentSettings"]

OUTPUT_TAIL = 200
"""Characters of a failed exec check's output kept in the event."""


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
        runs: int = 0,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.logic = AgentLogic(settings, clock=clock, runs=runs)
        self.runner = runner
        self.supervisor = supervisor
        self.timers = timers
        self.prober = prober
        self.events = events
        self.slots: dict[Slot, TimerHandle | ProbeHandle] = {}
        self.requests: dict[tuple[bool, str], ProbeRequest] = {}
        """The network request of the readiness (True) and liveness (False) probe."""
        self._closing = threading.Lock()
        self._closed = False

    # ------------------------------------------------------------------ plumbing

    def _tell_self(self, message: object) -> None:
        tell_quietly(self.actor_ref, message)

    def _set(self, slot: Slot, handle: TimerHandle | ProbeHandle | None) -> None:
        old = self.slots.pop(slot, None)
        if old is not None:
            old.cancel()
        if handle is not None:
            self.slots[slot] = handle

    def _cancel_all(self) -> None:
        for handle in self.slots.values():
            handle.cancel()
        self.slots.clear()

    def _kill_if_running(self) -> None:
        """Make sure no process outlives the actor, including one whose launch is still
        under way: the launch thread kills it when it finds the actor closed."""
        with self._closing:
            self._closed = True
        if self.logic.alive or self.logic.launching:
            self.runner.kill()

    def on_failure(self, exception_type: Any, exception_value: Any, traceback: Any) -> None:
        """A bug here must not leave a process unsupervised: kill it and report."""
        self._cancel_all()
        self._kill_if_running()
        tell_quietly(
            self.supervisor,
            AgentStartFailed(
                self.settings.agent_id, self.logic.run, f"internal error: {exception_value!r}"
            ),
        )

    def on_stop(self) -> None:
        self._cancel_all()
        self._kill_if_running()

    # ------------------------------------------------------------------ messages

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, HealthChecked) and self.logic.checks_owner(message):
            message = self._owned(message)
        for effect in self.logic.handle(message):
            self._apply(effect)
        return None

    def _apply(self, effect: Effect) -> None:
        match effect:
            case Report(message=message):
                if isinstance(message, AgentReady):
                    # The URL it answers at: for a swarm agent, the node its task runs on.
                    message = msgspec.structs.replace(message, url=liveurls.live(message.url))
                tell_quietly(self.supervisor, message)
            case Probe():
                self._schedule_probe(effect)
            case FlushProbe(generation=generation):
                self._flush_probe(generation)
            case After(seconds=seconds, message=later, slot=slot):
                tell = self._tell_self
                handle = self.timers.call_later(seconds, lambda: tell(later))
                if slot is not None:
                    self._set(slot, handle)
            case Cancel(slot=slot):
                if slot is None:
                    self._cancel_all()
                else:
                    self._set(slot, None)
            case Launch():
                self._launch_in_background(effect)
            case Stop(run=run, timeout=timeout):
                self._stop_in_background(run, timeout)
            case Kill():
                self.runner.kill()

    # ------------------------------------------------------------------ launching

    def _launch_in_background(self, launch: Launch) -> None:
        run, generation = launch.run, launch.generation
        agent_id = self.settings.agent_id
        events = self.events
        wanted = re.compile(launch.log_pattern) if launch.log_pattern else None
        seen = threading.Event()
        tell = self._tell_self
        runner = self.runner
        spec, build = self.settings.spec, self.settings.spec_at_launch

        def on_lines(stream: Stream, batch: LineBatch) -> None:
            events.output_lines(agent_id, stream, batch)
            if wanted is not None and not seen.is_set() and any(
                map(wanted.search, batch.texts)
            ):
                seen.set()  # the first matching line makes the agent ready
                tell(HealthChecked(generation, True, ""))

        def on_exit(status: ExitStatus) -> None:
            tell(ProcessExited(run, status.exit_code, status.signal, status.reason))

        def answered(started: Future[StartInfo]) -> None:
            error = started.exception()
            if isinstance(error, RunnerError):
                tell(LaunchFailed(run, str(error)))
                return
            if error is not None:  # a runner bug must still answer the launch
                tell(LaunchFailed(run, f"internal error: {error!r}"))
                return
            info = started.result()
            with self._closing:
                if not self._closed:
                    tell(Launched(run, info.pid, info.host))
                    return
            runner.kill()  # the actor stopped while the launch was under way

        # An agent given swarm agents' URLs gets its environment built at launch, from
        # where their tasks run (`agentsup.liveurls`). The runner answers off this
        # thread (`Runner.start_soon`), which stays free for messages meanwhile.
        try:
            started = runner.start_soon(spec if build is None else build,
                                        BatchOutput(on_lines, events.flow), on_exit)
        except Exception as exc:
            started = Future()
            started.set_exception(exc)
        started.add_done_callback(answered)

    def _stop_in_background(self, run: int, timeout: float) -> None:
        runner = self.runner
        tell = self._tell_self

        def stop() -> None:
            try:
                runner.stop(timeout)
            finally:
                tell(StopFinished(run))

        threading.Thread(target=stop, name=f"stop-{self.settings.agent_id}", daemon=True).start()

    # ------------------------------------------------------------------ probes

    def _schedule_probe(self, effect: Probe) -> None:
        """Probe after `delay`: the prober keeps the time and runs the probe, and only
        its result comes back here. Liveness checks of hundreds of agents are the
        supervisor's main idle cost, and a tick through this actor would add a thread
        wake-up to each."""
        done = self._probe_done(effect.generation)
        health = self.settings.health
        probe = health.ready_probe() if effect.readiness else health.live_probe()
        if probe.type is ProbeType.EXEC:  # every result reported: quiet passes, polling optional
            check = self._exec_check(probe)
            prober = self.prober
            self._set("health", self.timers.call_later(
                effect.delay, lambda: prober.run_exec(check, done)))
            return
        url = liveurls.live(self.settings.url)  # a swarm task's address once it runs
        request = self.requests.get((effect.readiness, url))
        if request is None:
            try:
                request = network_request(url, probe)
            except ValueError as exc:
                self._set("health", None)
                done(ProbeResult(False, str(exc)))
                return
            self.requests[(effect.readiness, url)] = request  # the same for every check
        if effect.polling is not None:
            here = self.runner.local_leader() is not None
            self._set("health", self.prober.poll(effect.delay, request, done, effect.polling,
                                                 here=here))
            return
        self._set("health", self.prober.schedule(
            effect.delay, request, done, repeat=effect.quiet_passes))

    def _probe_done(self, generation: int) -> Callable[[ProbeResult], None]:
        """Where a probe's result goes: a `HealthChecked` told to this actor."""
        tell = self._tell_self

        def done(result: ProbeResult) -> None:
            tell(HealthChecked(generation, result.ok, result.error, result.peer, result.name))

        return done

    def _flush_probe(self, generation: int) -> None:
        """Have the polling probe report its last failure. The answer comes back as a
        message like any probe result, also when no polling probe holds the slot (one
        that could not be made, say), so that the logic always gets one."""
        handle = self.slots.pop("health", None)
        done = self._probe_done(generation)
        if isinstance(handle, ProbeHandle):
            self.prober.flush(handle, done)
            return
        if handle is not None:
            handle.cancel()
        done(ProbeResult(False, ""))

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

    def _owned(self, result: HealthChecked) -> HealthChecked:
        """A passed readiness probe of a local agent counts only if the listening socket
        that answered is held by the agent's own processes: another program on the
        port must not make a dead or still-loading agent ready."""
        leader = self.runner.local_leader()
        if result.peer is None or leader is None:
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
