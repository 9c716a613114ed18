"""Agents as child processes of the supervisor on this machine.

All the machinery lives in `_hub` (one I/O thread for every local agent), `_process` (one
agent's process) and `programs/reaper.py` (the watchdog that outlives a killed
supervisor); this module adapts it to `Runner`. The `LocalBackend` owns the job's hub and
closes it once every agent has stopped.

Each agent leads its own session and process group: signals reach everything it forked,
and it has no terminal to write over the live view or to wait on (`_process.fork_agent`). The
reaper, started before the first agent, ends the groups and every marked process if the
supervisor dies; if it cannot run, each leader gets `PR_SET_PDEATHSIG` instead. A local
agent costs the supervisor `FDS_PER_AGENT` (3) file descriptors and no thread.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from pathlib import Path

from agentsup.job.models import Agent
from agentsup.ports import ports_in_use
from agentsup.runners._hub import FDS_PER_AGENT, LocalHub
from agentsup.runners._process import ProcessHandle
from agentsup.runners.base import (
    Backend,
    BackendContext,
    ExecResult,
    ExitCallback,
    LaunchSpec,
    OutputCallback,
    Reloaded,
    Runner,
    RunnerError,
    StartInfo,
)

__all__ = ["FDS_PER_AGENT", "LocalBackend", "LocalHub", "LocalRunner"]

logger = logging.getLogger(__name__)

# How often a stop that is stuck after SIGKILL says so; it keeps waiting regardless,
# because returning would claim the process is gone.
_STUCK_WARNING_INTERVAL = 10.0


class LocalRunner(Runner):
    """Runs one agent at a time as a process group on this machine, through `hub`."""

    def __init__(self, hub: LocalHub) -> None:
        self._hub = hub
        self._lock = threading.Lock()
        self._handle: ProcessHandle | None = None
        self._stop_signal = signal.SIGTERM
        self._spec: LaunchSpec | None = None
        self._starting = False

    @property
    def pid(self) -> int | None:
        """The pid of the current or last process, None before the first start."""
        handle = self._handle
        return None if handle is None else handle.pid

    def start(
        self, spec: LaunchSpec, on_output: OutputCallback, on_exit: ExitCallback
    ) -> StartInfo:
        return self.start_soon(spec, on_output, on_exit).result()

    def start_soon(
        self, spec: LaunchSpec | Callable[[], LaunchSpec], on_output: OutputCallback,
        on_exit: ExitCallback,
    ) -> Future[StartInfo]:
        """The spawn is a request to the hub thread, which answers the future: no thread
        of the launch's own (`Runner.start_soon`), which for 200 agents booting at once
        was 200 threads made, each waiting on the hub, on the cores the agents need."""
        if callable(spec):  # making the spec may block (`agentsup.liveurls`)
            return super().start_soon(spec, on_output, on_exit)
        started: Future[StartInfo] = Future()
        started.set_running_or_notify_cancel()
        with self._lock:
            previous = self._handle
            busy = "starting" if self._starting else (
                f"pid {previous.pid}" if previous is not None and previous.running else "")
            if busy:
                started.set_exception(
                    RunnerError(f"agent {spec.agent_id!r} is still running ({busy})"))
                return started
            env = {**os.environ, **spec.env} if spec.inherit_environment else dict(spec.env)
            try:
                spawned = self._hub.spawn_soon(spec.argv, env, spec.cwd, on_output, on_exit)
            except RunnerError as exc:
                started.set_exception(exc)
                return started
            self._starting = True

        def answer(spawned: Future[ProcessHandle]) -> None:
            error = spawned.exception()
            with self._lock:
                self._starting = False
                if error is None:
                    handle = spawned.result()
                    self._handle = handle
                    self._stop_signal = signal.Signals[spec.stop_signal]
                    self._spec = spec
            if error is not None:
                started.set_exception(error)
            else:
                started.set_result(StartInfo(pid=handle.pid, host="localhost"))

        spawned.add_done_callback(answer)
        return started

    def stop(self, timeout: float) -> None:
        """See `Runner.stop`; must not be called from an output or exit callback.

        Once it returns, the exit callback has run (except when called from within it).
        """
        self._hub.hurry()  # the hub reports the exit only once a burst's spawns are made
        handle = self._handle
        if handle is None:
            return
        if not handle.running:
            handle.wait()  # at most the moment it takes the hub to finish reporting
            return
        handle.signal_group(self._stop_signal)
        if handle.wait(max(timeout, 0.0)):
            return
        handle.signal_group(signal.SIGKILL)
        # Group members that outlived the leader are SIGKILLed by the hub just before
        # it reaps the leader, which cannot hit a reused group id; nothing left to do
        # here once the exit is reported.
        while not handle.wait(_STUCK_WARNING_INTERVAL):
            logger.warning("local agent pid %d has not exited after SIGKILL", handle.pid)

    def kill(self) -> None:
        self._hub.hurry()
        handle = self._handle
        if handle is not None:
            handle.signal_group(signal.SIGKILL)

    def close(self) -> None:
        """Make sure nothing is left running; the hub is the backend's and stays."""
        self.kill()

    def local_leader(self) -> int | None:
        handle = self._handle
        return None if handle is None or not handle.running else handle.pid

    def execute(self, argv: Sequence[str], timeout: float) -> ExecResult:
        """Run a check command in the agent's directory and environment, in a session of
        its own (so it is not part of the agent's group); killed when it overruns."""
        spec = self._spec
        if spec is None:
            raise RunnerError("the agent has not been started")
        try:
            done = subprocess.run(
                list(argv), cwd=spec.cwd, env={**os.environ, **spec.env},
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                timeout=timeout, start_new_session=True, check=False,
            )
        except subprocess.TimeoutExpired:
            return ExecResult(None, "")
        except OSError as exc:
            raise RunnerError(f"cannot run {argv[0]!r}: {exc.strerror or exc}") from None
        return ExecResult(done.returncode, done.stdout.decode(errors="replace")[-300:])


class LocalBackend(Backend):
    """Agents on this machine: child processes of the supervisor.

    The backend owns the job's `LocalHub`: its thread and the reaper start with the
    first launch, and `close` ends them, SIGKILLing any local agent still running.
    """

    def __init__(self, context: BackendContext, agents: list[Agent]) -> None:
        super().__init__(context, agents)
        self.hub = LocalHub()

    def preflight(self) -> list[str]:
        return _busy_ports(self.agents, held_by_the_job=frozenset())

    def reload_preflight(self, reloaded: Reloaded) -> list[str]:
        """The start's port check for the new and changed agents, so that a port some
        other process listens on refuses the reload instead of crashing the agent until
        its restart budget, and with it the job, runs out.

        The ports of the job's own local agents are not checked: an agent that keeps its
        port, or takes the port of a removed or changed agent, finds it held by an old
        process that the reload stops before the new one starts. The loader lets no two
        agents of one file share a port of this machine, so such a port is never also
        wanted by an agent that keeps running.
        """
        held = frozenset(agent.config.port for agent in self.agents)
        return _busy_ports(reloaded.fresh(self.agents), held_by_the_job=held)

    def interpreter(self, agent: Agent) -> str:
        return agent.deployment.python or sys.executable

    def working_dir(self, agent: Agent) -> Path:
        """`workdir` relative to the job file's directory, or that directory."""
        workdir = agent.deployment.workdir
        base_dir = self.context.base_dir
        return ((base_dir / workdir) if workdir else base_dir).resolve()

    def runner_for(self, agent: Agent) -> Runner:
        return LocalRunner(self.hub)

    def close(self) -> None:
        self.hub.close()


def _busy_ports(agents: list[Agent], held_by_the_job: frozenset[int]) -> list[str]:
    """Why `agents` cannot listen on their ports, one sentence each: the same words for
    a start and a reload. Ports in `held_by_the_job` are skipped, since the job's own
    agents listening there give them up before anything else starts on them."""
    wanted = [(a.id, a.config.port) for a in agents if a.config.port not in held_by_the_job]
    return [
        f"port {port} of agent {agent_id!r} is already in use by another process"
        for agent_id, port in ports_in_use(wanted)
    ]
