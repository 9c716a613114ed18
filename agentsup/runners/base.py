"""The interface every target implements.

A runner is deliberately thin: it launches one agent, streams its output lines, reports
its exit exactly once, and stops it. It knows nothing about health, stages or restart
policy; the agent actor decides all of that.

One rule for threads. A runner's I/O happens on threads of its own (the local hub, the
asyncssh loop, Docker's reader and waiter threads), never on an actor's thread. Such a
thread has exactly two ways out: an agent's output and exit go to the callbacks `start`
was given (the agent actor hands them on with `ActorRef.tell`, and wraps the output
callback with the log files and the `agentsup logs` ring), and anything the backend
itself reports (a connection lost, an image pulled, a network removed) goes to the
`EventSink` in its `BackendContext`. Neither blocks, and nothing else is shared: a
backend never sees the event log, the plan or the job.

Output may go line by line or a chunk at a time: an output callback that is a
`BatchOutput` also takes all the lines of one read in one call (`deliver`), which is how
the local hub keeps up with an agent that prints as fast as a pipe carries. A runner
that calls it line by line (SSH, Docker, Swarm) gets the same result, one line a call.

A `BatchOutput` may also carry the `OutputFlow` of where its lines end up (agentsup's
stdout): the local hub asks it after each read whether to stop reading agents' pipes for
a while, which is how a slow reader of stdout holds local agents back, as a bare pipe
would, instead of having their output dropped.
"""

from __future__ import annotations

import abc
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

import msgspec

from agentsup.runners.lines import LineBatch
from agentsup.signalnames import signal_name

if TYPE_CHECKING:
    from agentsup.job.models import Agent, SshSettings, SwarmSettings
    from agentsup.settings import ProcessSettings

Stream = Literal["stdout", "stderr"]


class OutputCallback(Protocol):
    """Receives one decoded line (without its line ending) from the given stream.

    A line longer than the runners' limit (64 KiB) arrives in pieces numbered by `part`
    (1, 2, ...), `continued` on all but the last; a whole line has `part` None.
    """

    def __call__(
        self, stream: Stream, line: str, part: int | None = None, continued: bool = False
    ) -> None: ...


LinesCallback = Callable[[Stream, LineBatch], None]
"""Receives the lines of one chunk of one stream, in order (see `LineBatch`)."""


class OutputFlow(Protocol):
    """Tells a reader of agents' output when to stop reading because the output cannot
    go on as fast as it comes (implemented by `linewriter.LineWriter`).

    A reader that obeys it (the local hub) calls `pace_this_thread` once from its
    thread; the output it hands on is then never dropped while its consumer is still
    taking output, since it stops reading instead. Output from other threads keeps the
    consumer's own limit.
    """

    def pace_this_thread(self) -> None:
        """The calling thread stops reading whenever `paused` says so."""

    def paused(self) -> float | None:
        """None: read on. A number: stop reading, and ask again within that many
        seconds (the consumer may have stopped taking output by then), or sooner when
        the wake given to `on_drained` is called."""

    def on_drained(self, wake: Callable[[], None]) -> None:
        """Call `wake` once, from any thread, when reading may go on: at once if it
        already may."""


class BatchOutput:
    """An output callback that takes a whole chunk's lines in one call, and single
    lines too.

    Per-call work (a lock, a timestamp, a write) then happens once per read instead of
    once per line. Called line by line, each line becomes a batch of one, so every
    runner can be given one. `flow`, if given, is the `OutputFlow` of the lines'
    destination; a wrapper that passes the lines on hands it over too (`flow_of`).
    """

    __slots__ = ("flow", "lines")

    def __init__(self, lines: LinesCallback, flow: OutputFlow | None = None) -> None:
        self.lines = lines
        self.flow = flow

    def __call__(
        self, stream: Stream, line: str, part: int | None = None, continued: bool = False
    ) -> None:
        self.lines(stream, LineBatch.of(line, part, continued))


def deliver(on_output: OutputCallback, stream: Stream, batch: LineBatch) -> None:
    """Hand a batch to an output callback: in one call when it takes batches, else a
    line a call."""
    if isinstance(on_output, BatchOutput):
        on_output.lines(stream, batch)
        return
    for line in batch:
        on_output(stream, line.text, line.part, line.continued)


def flow_of(on_output: OutputCallback) -> OutputFlow | None:
    """The `OutputFlow` an output callback carries, if any."""
    return on_output.flow if isinstance(on_output, BatchOutput) else None


ExitCallback = Callable[["ExitStatus"], None]
"""Receives the exit of the process, exactly once per successful `start`."""


class LaunchSpec(msgspec.Struct, frozen=True):
    """Everything a runner needs to launch one agent process."""

    agent_id: str
    argv: tuple[str, ...]
    env: Mapping[str, str]
    """Variables added on top of the runner's base environment (the agent contract)."""
    cwd: Path
    stop_timeout: float = 10.0
    stop_signal: str = "SIGTERM"
    """The name of the signal that asks the process to stop (`deployment.stop_signal`)."""
    inherit_environment: bool = True
    """Whether `env` goes on top of agentsup's own environment (local agents only)."""


class StartInfo(msgspec.Struct, frozen=True):
    """What a runner knows about a process it has just launched."""

    pid: int
    host: str


class ExitStatus(msgspec.Struct, frozen=True):
    """How a process ended: an exit code, or the signal that killed it."""

    exit_code: int | None
    signal: int | None = None
    reason: str | None = None
    """Why there is no code or signal, e.g. the SSH connection to the host was lost."""

    @property
    def success(self) -> bool:
        return self.exit_code == 0 and self.signal is None

    def describe(self) -> str:
        if self.reason is not None and self.exit_code is None and self.signal is None:
            return self.reason
        if self.signal is not None:
            return f"killed by {signal_name(self.signal)}"
        return f"exit code {self.exit_code}"


class ExecResult(msgspec.Struct, frozen=True):
    """How a command run beside the agent (an exec health check) ended."""

    exit_code: int | None
    """None when it did not finish within its timeout."""
    output: str = ""
    """The end of what it printed, for the event that reports a failed check."""


class RunnerError(Exception):
    """A launch that could not happen; the message is shown to the user as it is."""


class Runner(abc.ABC):
    """Runs one agent process on one target.

    `start` may be called again after the previous process has exited (a restart);
    implementations must not keep per-process state that would leak across starts.
    """

    @abc.abstractmethod
    def start(
        self, spec: LaunchSpec, on_output: OutputCallback, on_exit: ExitCallback
    ) -> StartInfo:
        """Launch the process; raise `RunnerError` with a readable message on failure."""

    def start_soon(
        self, spec: LaunchSpec | Callable[[], LaunchSpec], on_output: OutputCallback,
        on_exit: ExitCallback,
    ) -> Future[StartInfo]:
        """`start` without waiting for it; `spec` may be a function that makes it, called
        where the launch runs (it may block). The future holds the `StartInfo`, or the
        `RunnerError` (or any other exception) `start` raised.

        A launch can take seconds (an SSH connection, an image pull), so by default it
        runs on a thread of its own. A target whose launch is a request to a thread it
        already has (the local hub) answers from there instead, without that thread."""
        future: Future[StartInfo] = Future()
        future.set_running_or_notify_cancel()

        def launch() -> None:
            try:
                info = self.start(spec() if callable(spec) else spec, on_output, on_exit)
            except BaseException as exc:
                future.set_exception(exc)
            else:
                future.set_result(info)

        name = spec.agent_id if isinstance(spec, LaunchSpec) else "agent"
        threading.Thread(target=launch, name=f"launch-{name}", daemon=True).start()
        return future

    @abc.abstractmethod
    def stop(self, timeout: float) -> None:
        """Ask the process (its whole group) to end, force it after `timeout` seconds.

        Blocks until the process is gone; callers run it off the actor thread. The exit
        is still reported through the exit callback.
        """

    @abc.abstractmethod
    def kill(self) -> None:
        """End the process (its whole group) at once, without waiting."""

    def close(self) -> None:  # noqa: B027 - optional hook with a sensible default
        """Release resources held for this agent once it will not be started again."""

    def execute(self, argv: Sequence[str], timeout: float) -> ExecResult:
        """Run `argv` where the agent runs, with its environment and working directory,
        and wait at most `timeout` seconds. Blocks; raises `RunnerError` when it cannot
        be run at all (no agent process, the host or container is gone)."""
        raise RunnerError("this target cannot run commands for health checks")

    def local_leader(self) -> int | None:
        """The pid of the agent's process group leader when it is a process of this
        machine (so its sockets can be looked up in /proc), else None."""
        return None


class EventSink(Protocol):
    """The one way a backend reports what it does itself: `sink("ssh.connected",
    host=...)`, or with a level, `sink("ssh.connection_lost", "warning", ...)`.

    Callable from any thread (the asyncssh loop, a Docker thread, the main thread): it
    only queues a line for the event writer, and never blocks on it.
    """

    def __call__(self, event: str, level: str = "info", **fields: Any) -> None: ...


class BackendContext(msgspec.Struct, frozen=True):
    """What a backend knows about the job it serves, and all it may reach of the rest.

    Per-agent settings (stop timeout and signal, inherited environment) are not here:
    they come with each `launch_spec` call, merged from the job that is in force then
    (a reload may have changed them).
    """

    job_name: str
    run_id: str
    """Unique per `agentsup start`; marks what this run created (labels, records)."""
    base_dir: Path
    """The job file's directory, which relative paths in it are relative to."""
    emit: EventSink
    host_ports: Mapping[str, int]
    """The plan's host port of each agent (the port its URL names on this machine)."""
    published: Mapping[str, str]
    """The plan's address each container agent's port is published on."""
    ssh: SshSettings
    """The job's `deployment.ssh` (connect timeout, key file, known_hosts)."""
    pull: bool
    """The job's `deployment.pull`; an agent's own `pull` overrides it."""
    swarm: SwarmSettings
    """The job's `deployment.swarm` (which manager's Engine API)."""
    start_timeout: float
    """The job's `deployment.timeout`, which bounds how long Swarm may take to schedule."""
    environment: Callable[[Agent], Mapping[str, str]]
    """The environment an agent is started with (the agent contract), for checks made
    before anything starts."""


class Reloaded(msgspec.Struct, frozen=True):
    """A reloaded job as one backend sees it: its target's agents in the new file."""

    agents: list[Agent]
    host_ports: Mapping[str, int]
    """The new plan's host port of each agent."""
    published: Mapping[str, str]
    """The new plan's address each container agent's port is published on."""
    environment: Callable[[Agent], Mapping[str, str]]
    """The environment an agent would be started with under the new file."""

    def fresh(self, before: list[Agent]) -> list[Agent]:
        """The agents that are new, or whose definition differs from `before`'s."""
        old = {agent.id: agent for agent in before}
        return [agent for agent in self.agents if old.get(agent.id) != agent]


class Backend(abc.ABC):
    """One target's shared resources for one job: connections, networks, clients.

    A backend is created once per job for the agents of its target. `preflight` runs
    before anything starts anywhere, so that a missing image or an unreachable host is
    reported before a single process is launched. `close` runs after every agent has
    stopped.
    """

    def __init__(self, context: BackendContext, agents: list[Agent]) -> None:
        self.context = context
        self.agents = agents

    def preflight(self) -> list[str]:
        """Problems that must stop the job before it starts, as readable sentences.

        Runs for every backend before any `prepare`; must not change anything.
        """
        return []

    def prepare(self) -> None:  # noqa: B027 - optional hook with a sensible default
        """Create what the agents need (networks, remote directories), after every
        backend's preflight passed. Raise `RunnerError` to fail the job before it starts."""

    def reload_preflight(self, reloaded: Reloaded) -> list[str]:
        """What stops a reload from launching this target's new or changed agents, as
        readable sentences; like `preflight`, it must not change anything."""
        return []

    def reload_prepare(self, reloaded: Reloaded) -> None:
        """Make ready what the new or changed agents need (a host to reach, a network, an
        image, a host port), then take the new agents; `RunnerError` refuses the reload."""
        self.agents = reloaded.agents

    @classmethod
    def down(cls, context: BackendContext, agents: list[Agent]) -> list[str]:
        """Remove what an earlier run of this job left behind (`agentsup down`).

        Returns one sentence per thing removed. Raise `RunnerError` when the target
        cannot be reached.
        """
        return []

    @abc.abstractmethod
    def interpreter(self, agent: Agent) -> str:
        """The Python that runs a `module` agent on this target."""

    @abc.abstractmethod
    def working_dir(self, agent: Agent) -> Path:
        """Where the agent runs, as this target names directories."""

    def launch_spec(
        self, agent: Agent, env: Mapping[str, str], process: ProcessSettings
    ) -> LaunchSpec:
        """How this target runs the agent: argv, environment, working directory, and
        the stop and environment settings in force for it (`settings.process_settings`)."""
        return LaunchSpec(
            agent_id=agent.id,
            argv=agent_argv(agent, self.interpreter(agent)),
            env=dict(env),
            cwd=self.working_dir(agent),
            stop_timeout=process.stop_timeout,
            stop_signal=process.stop_signal,
            inherit_environment=process.inherit_environment,
        )

    @abc.abstractmethod
    def runner_for(self, agent: Agent) -> Runner:
        """A runner for one agent; called once per agent."""

    def close(self) -> None:  # noqa: B027 - optional hook with a sensible default
        """Release what the backend holds; every agent has stopped by now."""


def agent_argv(agent: Agent, python: str) -> tuple[str, ...]:
    """The command line of an agent: its `command`, or `python -m module`."""
    if agent.command is not None:
        return tuple(agent.command)
    if agent.module is None:  # pragma: no cover - the loader requires one of the two
        raise RunnerError(f"agent {agent.id!r} has neither 'module' nor 'command'")
    return (python, "-m", agent.module)
