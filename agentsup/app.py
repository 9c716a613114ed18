"""`agentsup start`: wiring a loaded job into actors and waiting for it to finish.

The main thread does three things only: set the job up, turn signals into messages to
the supervisor, and wait for the exit code. Everything else happens in actors.
"""

from __future__ import annotations

import sys
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import Any

import pykka

from agentsup import collector, liveurls
from agentsup import settings as effective
from agentsup.actors.agent import AgentActor
from agentsup.actors.agent_effects import AgentSettings
from agentsup.actors.logic import SupervisorLogic
from agentsup.actors.supervisor import JobSupervisor
from agentsup.actors.timers import TimerService
from agentsup.console import choose_format
from agentsup.control.logring import LogRing, TappedRunner
from agentsup.control.reload import Reloader, launch_of
from agentsup.control.rundir import ControlError
from agentsup.control.running import refuse_down_while_running
from agentsup.control.server import ControlServer, open_control
from agentsup.environment import agent_environment, same_url
from agentsup.exitcodes import EXIT_FAILED, EXIT_INVALID, EXIT_OK
from agentsup.job.envfiles import EnvFileError
from agentsup.job.loader import LoadedJob
from agentsup.job.models import Agent, JobDefinition, Target
from agentsup.logfiles import LogFiles, open_log_files
from agentsup.logs import EventLog, route_stdlib_logging
from agentsup.messages import AttachAgent, StartJob
from agentsup.openfiles import ensure_open_files
from agentsup.plan import DeploymentPlan
from agentsup.probes.prober import Prober
from agentsup.resolving import unsupported_targets
from agentsup.runners.base import Backend, BackendContext, LaunchSpec, RunnerError
from agentsup.runners.registry import backend_class, supported_targets
from agentsup.settings import failure_action, restart_policies
from agentsup.signals import Interrupted, StopSignals, trapped


def run_job(
    loaded: LoadedJob,
    plan: DeploymentPlan,
    *,
    log_format: str | None,
    log_level: str,
    monitor: float | None,
) -> int:
    job = loaded.definition
    unsupported = unsupported_targets(loaded)
    if unsupported is not None:
        print(unsupported.render(), file=sys.stderr)
        return EXIT_INVALID

    open_files = ensure_open_files(len(job.agents))
    try:
        control = open_control(job.job.name, str(loaded.path.resolve()), LogRing())
    except ControlError as exc:
        print(f"agentsup: {exc}", file=sys.stderr)
        return EXIT_FAILED
    fmt = choose_format(log_format, sys.stdout, live=True)
    events = EventLog(job.job.name, fmt=fmt, level=log_level, hold_last=True,
                      agents=[agent.id for agent in job.agents])
    route_stdlib_logging(events)
    for agent in job.agents:
        events.set_output_levels(agent.id, effective.output_levels(job, agent))
    signals = StopSignals()
    log_files: LogFiles | None = None
    code = EXIT_FAILED
    try:
        # One handler from here to the exit: no gap in which a signal finds its default
        # action, and once the job is over the signals stay ignored (see StopSignals).
        with trapped(signals, ignore_after=True):
            try:
                events.emit(
                    "job.loaded",
                    started=events.started_text(),
                    file=str(loaded.path),
                    agents=len(job.agents),
                    topology=job.topology.type.value,
                    control=control.path,
                )
                summary = plan.to_json()
                summary.pop("job")
                events.emit("plan.resolved", **summary)
                if open_files.short:
                    events.emit("job.open_files", "warning", limit=open_files.limit,
                                wanted=open_files.wanted, reason=open_files.reason())
                try:
                    log_files = open_log_files(job, loaded.base_dir)
                except OSError as exc:
                    events.emit("job.failed", "error",
                                reason=f"cannot open log files: {exc}; nothing was started")
                    return EXIT_FAILED
                if log_files is not None:
                    events.add_output_sink(log_files)
                code = _supervise(loaded, plan, events, monitor, signals, control)
            except Interrupted as interrupted:
                signals.done()
                code = _stopped_before_start(events, interrupted)
            signals.done()
    finally:
        control.close()
        # After every backend's clean-up (and its events): job.stopped goes last.
        events.release_last()
        if log_files is not None:
            log_files.close()
        events.close()
    return code


def _stopped_before_start(events: EventLog, interrupted: Interrupted) -> int:
    """A signal before any agent ran: stop as cleanly as a running job would."""
    events.emit("job.stopping", reason="signal", signal=interrupted.signal)
    events.emit("job.stopped", exit_code=0)
    return EXIT_OK


def job_context(loaded: LoadedJob, plan: DeploymentPlan, events: EventLog) -> BackendContext:
    """The narrow view of the job its backends get; `events.emit` is their event sink."""
    job, base_dir = loaded.definition, loaded.base_dir
    return BackendContext(
        job_name=job.job.name,
        run_id=uuid.uuid4().hex[:12],
        base_dir=base_dir,
        emit=events.emit,
        host_ports=dict(plan.host_ports),
        published=dict(plan.published),
        ssh=job.deployment.ssh,
        pull=job.deployment.pull,
        swarm=job.deployment.swarm,
        start_timeout=job.deployment.timeout,
        environment=lambda agent: environment_of(job, plan, agent, base_dir),
    )


def environment_of(
    job: JobDefinition, plan: DeploymentPlan, agent: Agent, base_dir: Path,
    *, urls: Callable[[str], str] = same_url,
) -> dict[str, str]:
    """`agent_environment`, with an env file that cannot be read any more (the loader
    read it, but minutes can pass before an agent's environment is built) reported as
    the `RunnerError` every step that builds one already handles."""
    try:
        return agent_environment(job, plan, agent, base_dir, urls=urls)
    except EnvFileError as exc:
        raise RunnerError(f"cannot build the environment of agent {agent.id!r}: {exc}") from None


def agents_by_target(job: JobDefinition) -> dict[Target, list[Agent]]:
    grouped: dict[Target, list[Agent]] = {}
    for agent in job.agents:
        grouped.setdefault(agent.deployment.target, []).append(agent)
    return grouped


def _backends(
    loaded: LoadedJob, plan: DeploymentPlan, events: EventLog
) -> dict[Target, Backend]:
    context = job_context(loaded, plan, events)
    return {
        target: backend_class(target)(context, agents)
        for target, agents in agents_by_target(loaded.definition).items()
    }


def down_job(loaded: LoadedJob, plan: DeploymentPlan, *, log_format: str | None) -> int:
    """`agentsup down`: remove what earlier runs of this job left behind."""
    job = loaded.definition
    if (refused := refuse_down_while_running(job.job.name)) is not None:
        return refused
    fmt = choose_format(log_format, sys.stdout, live=False)
    events = EventLog(job.job.name, fmt=fmt)
    route_stdlib_logging(events)
    context = job_context(loaded, plan, events)
    failed = False
    removed = 0
    for target, agents in agents_by_target(job).items():
        if target not in supported_targets():
            continue
        backend = backend_class(target)
        try:
            for what in backend.down(context, agents):
                removed += 1
                events.emit("job.cleaned", target=target.value, removed=what)
        except RunnerError as exc:
            failed = True
            events.emit("job.failed", "error", reason=f"{target.value}: {exc}")
    events.emit("job.down", removed=removed)
    events.close()  # the writer thread must get the last lines out before we exit
    return EXIT_FAILED if failed else EXIT_OK


def _supervise(
    loaded: LoadedJob,
    plan: DeploymentPlan,
    events: EventLog,
    monitor: float | None,
    signals: StopSignals,
    control: ControlServer,
) -> int:
    job = loaded.definition
    backends = _backends(loaded, plan, events)
    # Checking hosts and images can take minutes (an image pull); the objects made for
    # that are collected as usual, and what start-up built is frozen (collector.py).
    collector.resume()
    try:
        problems = [p for backend in backends.values() for p in backend.preflight()]
        if problems:
            events.emit(
                "job.failed", "error", reason="; ".join(problems) + "; nothing was started"
            )
            return EXIT_FAILED
        try:
            for backend in backends.values():
                backend.prepare()
        except RunnerError as exc:
            events.emit("job.failed", "error", reason=f"{exc}; nothing was started")
            return EXIT_FAILED
        return _run_actors(job, plan, backends, events, monitor, signals, control)
    except Interrupted as interrupted:
        # A signal while checking hosts and images: nothing runs yet; undo what
        # `prepare` made (in `close`) and stop as cleanly as a running job would.
        signals.done()
        return _stopped_before_start(events, interrupted)
    finally:
        signals.done()  # the outcome is decided; clean-up must not be cut short
        for backend in reversed(list(backends.values())):
            backend.close()


def _run_actors(
    job: JobDefinition,
    plan: DeploymentPlan,
    backends: dict[Target, Backend],
    events: EventLog,
    monitor: float | None,
    signals: StopSignals,
    control: ControlServer,
) -> int:
    finished: Future[int] = Future()
    logic = SupervisorLogic(
        plan,
        policies=restart_policies(job),
        on_failure=failure_action(job),
        clock=time.monotonic,
        shutdown_timeout=job.deployment.shutdown_timeout,
    )
    # Their threads are daemons: a signal before the `try` cannot keep the process up.
    timers = TimerService()
    prober = Prober()
    supervisor: pykka.ActorRef[Any] | None = None
    agents: dict[str, pykka.ActorRef[Any]] = {}

    def settings_for(job: JobDefinition, plan: DeploymentPlan, agent: Agent) -> AgentSettings:
        backend = backends[agent.deployment.target]
        return AgentSettings(
            agent_id=agent.id,
            url=plan.agent_urls[agent.id],
            health=effective.health(job, agent, backend.context.base_dir),
            start_timeout=effective.start_timeout(job, agent),
            spec=backend.launch_spec(
                agent,
                environment_of(job, plan, agent, backend.context.base_dir),
                effective.process_settings(job, agent),
            ),
            spec_at_launch=_live_spec(job, plan, agent, backend),
            published=plan.published.get(agent.id),
        )

    def actor_for(agent: Agent, settings: AgentSettings, runs: int = 0) -> pykka.ActorRef[Any]:
        backend = backends[agent.deployment.target]
        runner = TappedRunner(backend.runner_for(agent), control.ring, agent.id)
        assert supervisor is not None  # started before the first agent actor
        return AgentActor.start(
            settings, runner, supervisor, timers=timers, prober=prober, events=events,
            runs=runs,
        )

    by_id = {agent.id: agent for agent in job.agents}
    # The first stage's agents first, so that its launches need not wait for the rest.
    order = plan.start_order()
    try:
        settings = {agent.id: settings_for(job, plan, agent) for agent in job.agents}
    except RunnerError as exc:
        events.emit("job.failed", "error", reason=f"{exc}; nothing was started")
        return EXIT_FAILED
    try:
        # The supervisor's thread is known to the `finally` below before a stop signal
        # can unwind the set-up (StopSignals.held).
        with signals.held():
            supervisor = JobSupervisor.start(
                logic, events, finished, timers=timers, monitor_interval=monitor,
                awaiting=order,
            )
        signals.running(supervisor, finished)
        # The job starts now, while the agents' actors are made: an actor thread takes
        # about a millisecond to start (more while agents boot), which for 200 agents
        # held the first launch back by a third of a second. Commands for an agent
        # whose actor is not made yet wait in the supervisor (`AttachAgent`). Signals
        # meanwhile are passed on once the main thread has stopped telling
        # (StopSignals.held); every actor made is in `agents` before the next is begun.
        with signals.held():
            supervisor.tell(StartJob())
            for agent_id in order:
                if finished.done():
                    break
                agent = by_id[agent_id]
                agents[agent_id] = actor_for(agent, settings[agent_id])
                launch = launch_of(agent, settings[agent_id])
                supervisor.tell(AttachAgent(agent_id, agents[agent_id], launch))
        reloader = Reloader(control, supervisor, backends, settings_for, actor_for)
        control.attach(supervisor, list(agents), reloader)
        code = _wait(finished)
        signals.done()
    finally:
        _stop_actors(list(agents.values()))
        if supervisor is not None:
            _stop_actors([supervisor])
        prober.close()
        timers.close()
    return code


def _live_spec(
    job: JobDefinition, plan: DeploymentPlan, agent: Agent, backend: Backend
) -> Callable[[], LaunchSpec] | None:
    """For an agent that connects to swarm agents from outside their overlay: its
    environment built at each launch, from the addresses their tasks run at."""
    if not liveurls.any_placeholder(plan.connections[agent.id]):
        return None
    base_dir = backend.context.base_dir

    def build() -> LaunchSpec:
        env = environment_of(job, plan, agent, base_dir, urls=liveurls.live)
        return backend.launch_spec(agent, env, effective.process_settings(job, agent))

    return build


STOP_WAIT = 30.0
"""Seconds to wait for one actor to stop at the end; its thread is stuck if it takes
longer, and waiting more would not help."""


def _stop_actors(refs: list[pykka.ActorRef[Any]]) -> None:
    """Ask each actor to stop, once, and wait until they all have.

    Once only: pykka checks that an actor is alive before it queues a request, so a
    second stop sent while the actor is finishing the first can land in an inbox that
    was already drained for the last time, and its answer never comes. (Asking each
    twice, once to start them all stopping and again to wait, stalled shutdown for the
    30 s of the wait and then ended it with a traceback.) An actor that is already dead
    answers at once.
    """
    stops = [ref.stop(block=False) for ref in refs]
    for ref, stop in zip(refs, stops, strict=True):
        try:
            stop.get(timeout=STOP_WAIT)
        except pykka.Timeout:
            print(f"agentsup: {ref} did not stop within {STOP_WAIT:.0f} s", file=sys.stderr)


def _wait(finished: Future[int]) -> int:
    while True:
        try:
            return finished.result(timeout=1.0)
        except FutureTimeout:
            continue
