"""An agent that lives in one Docker Engine object at a time: a container, a service.

The container and swarm targets do the same things around their object, and do them
here: a backend connects to one Engine, clears what an earlier run of the job left
there (found by the `agentsup.job` label), and on close removes what this run still
has; a runner refuses a second launch while one runs, clears an object of its own
left under its name (and refuses to touch one of someone else's), creates the object,
explains the Engine's refusals, and removes the object when it is closed.

What differs stays with each target (`_docker_runner`/`docker`, `_swarm_runner`/
`swarm`): how the object is created and started, how its output is followed, how its
exit is seen, how it is stopped. A new target of this kind is one more pair of
subclasses.
"""

from __future__ import annotations

import abc
import logging
import threading
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar, Generic, Protocol, TypeVar

import docker.errors

from agentsup.job.models import Agent
from agentsup.runners._docker_engine import LABEL_JOB, Found, connect
from agentsup.runners.base import (
    Backend,
    BackendContext,
    ExitCallback,
    LaunchSpec,
    OutputCallback,
    Reloaded,
    Runner,
    RunnerError,
    StartInfo,
    Stream,
    deliver,
)
from agentsup.runners.lines import LineBatch, LineSplitter

logger = logging.getLogger(__name__)


def pump_output(frames: Iterable[tuple[bytes | None, bytes | None]],
                on_output: OutputCallback) -> None:
    """Pass every line of demultiplexed `(stdout, stderr)` frames (a container's or a
    service's log stream) on, in order: the lines of one frame in one call, as the local
    hub passes those of one read."""
    splitters: dict[Stream, LineSplitter] = {"stdout": LineSplitter(), "stderr": LineSplitter()}

    def pass_on(stream: Stream, batch: LineBatch) -> None:
        if batch:
            deliver(on_output, stream, batch)

    try:
        for out, err in frames:
            if out:
                pass_on("stdout", splitters["stdout"].feed_batch(out))
            if err:
                pass_on("stderr", splitters["stderr"].feed_batch(err))
    finally:
        for stream, splitter in splitters.items():
            pass_on(stream, splitter.finish_batch())


DEFAULT_PYTHON = "python3"
"""The interpreter for `module` agents inside the image, unless `deployment.python`."""


class EngineSettings(Protocol):
    """What every object's settings name: whose it is, and what it is called."""

    @property
    def job(self) -> str: ...

    @property
    def agent_id(self) -> str: ...

    @property
    def name(self) -> str: ...


class EngineLaunch(Protocol):
    """One launch's state, as far as the shared part needs it."""

    exited: threading.Event
    """Set once the exit callback has run."""


SettingsT = TypeVar("SettingsT", bound=EngineSettings)
LaunchT = TypeVar("LaunchT", bound=EngineLaunch)


class EngineObjectRunner(Runner, Generic[SettingsT, LaunchT]):
    """Runs one agent as one Engine object; a restart creates a new object."""

    kind: ClassVar[str]
    """What the object is called in messages: "container", "service"."""
    thread_prefix: ClassVar[str]
    """The first word of the names of this runner's threads: "docker", "swarm"."""

    def __init__(self, api: Any, settings: SettingsT) -> None:
        self._api = api
        self.settings = settings
        self._lock = threading.Lock()
        self._launch: LaunchT | None = None

    # ------------------------------------------------------------------ start

    def start(
        self, spec: LaunchSpec, on_output: OutputCallback, on_exit: ExitCallback
    ) -> StartInfo:
        try:
            return self._start(spec, on_output, on_exit)
        except RunnerError:
            raise
        except Exception as exc:  # the Engine went away, or answered nonsense
            raise RunnerError(
                f"cannot start {self.kind} {self.settings.name} of agent {spec.agent_id!r}: "
                f"{type(exc).__name__}: {exc}"
            ) from exc

    def _start(
        self, spec: LaunchSpec, on_output: OutputCallback, on_exit: ExitCallback
    ) -> StartInfo:
        with self._lock:
            previous = self._launch
            if previous is not None and not previous.exited.is_set():
                raise RunnerError(
                    f"agent {spec.agent_id!r} is still running "
                    f"({self.kind} {self.settings.name})"
                )
            self._clear_name()
            try:
                object_id = self._create(spec)
            except docker.errors.APIError as exc:
                raise RunnerError(self._explain("cannot create", exc)) from exc
            launch, info = self._begin(object_id)
            self._launch = launch
            self._follow(launch, spec, on_output, on_exit)
        return info

    def _clear_name(self) -> None:
        """Remove an object an earlier launch of this agent left under our name."""
        settings = self.settings
        existing = self._find_named()
        if existing is None:
            return
        object_id, marks = existing
        if marks.get(LABEL_JOB) != settings.job:
            raise RunnerError(
                f"{self.kind} name {settings.name!r} of agent {settings.agent_id!r} is taken "
                f"by a {self.kind} agentsup did not create for job {settings.job!r}"
            )
        self._remove_leftover(object_id)

    def _explain(self, doing: str, exc: docker.errors.APIError) -> str:
        """The Engine's refusal of `doing`, in the words of the agent's object."""
        settings = self.settings
        text = str(exc.explanation or exc)
        return f"{doing} {self.kind} {settings.name} of agent {settings.agent_id!r}: {text}"

    @abc.abstractmethod
    def _find_named(self) -> tuple[str, Mapping[str, str]] | None:
        """The id and labels of the object under `settings.name`, None when there is none."""

    @abc.abstractmethod
    def _remove_leftover(self, object_id: str) -> None:
        """Remove an earlier launch's object before this one takes its name."""

    @abc.abstractmethod
    def _create(self, spec: LaunchSpec) -> str:
        """Create the object (not yet running); its id. An `APIError` is explained."""

    @abc.abstractmethod
    def _begin(self, object_id: str) -> tuple[LaunchT, StartInfo]:
        """Get the created object running; on failure remove it and raise."""

    @abc.abstractmethod
    def _follow(
        self, launch: LaunchT, spec: LaunchSpec, on_output: OutputCallback,
        on_exit: ExitCallback,
    ) -> None:
        """Start the threads that pass the output on and report the exit."""

    # ------------------------------------------------------------------ kill and close

    def kill(self) -> None:
        """End the object now, on a thread of its own: an Engine call may be slow."""
        launch = self._launch
        if launch is None or launch.exited.is_set():
            return
        threading.Thread(
            target=self._kill_now, args=(launch,),
            name=f"{self.thread_prefix}-kill-{self.settings.agent_id}", daemon=True,
        ).start()

    @abc.abstractmethod
    def _kill_now(self, launch: LaunchT) -> None:
        """The Engine call that ends the object at once, whatever the grace period."""

    def close(self) -> None:
        launch = self._launch
        if launch is not None:
            self._remove(launch)

    @abc.abstractmethod
    def _remove(self, launch: LaunchT) -> None:
        """Remove the launch's object; a failure is logged, not raised."""


class EngineBackend(Backend):
    """The agents of one job on one Engine, each in an object of its own."""

    cleanup_failed: ClassVar[str]
    """The warning event when clearing away fails: "docker.cleanup_failed", ..."""
    connections_per_agent: ClassVar[int]
    """Long-lived connections each agent's object holds (output, wait, ...)."""

    def __init__(self, context: BackendContext, agents: list[Agent]) -> None:
        super().__init__(context, agents)
        self._api: Any = None
        self._lock = threading.Lock()
        self.job_name = context.job_name
        self.engine = self.engine_for(context)
        self.host_ports: dict[str, int] = dict(context.host_ports)
        """Each agent's port on the host; a reload adds and changes them."""

    @classmethod
    @abc.abstractmethod
    def engine_for(cls, context: BackendContext) -> str:
        """The address of the Engine the job's objects live on."""

    @staticmethod
    @abc.abstractmethod
    def clear_job(api: Any, job: str) -> Iterator[Found]:
        """Remove everything labelled with `job`; yields each one as it goes."""

    def _client(self) -> Any:
        with self._lock:
            if self._api is None:
                # The objects' long-lived connections, and some spare for requests.
                self._api = connect(
                    max_pool_size=self.connections_per_agent * len(self.agents) + 8,
                    address=self.engine,
                )
            return self._api

    def clear_leftovers(self, api: Any) -> None:
        """Remove what an earlier run of the job left behind, an event for each."""
        emit = self.context.emit
        try:
            for found in self.clear_job(api, self.job_name):
                emit(
                    f"{found.kind}.removed",
                    **({"agent": found.agent} if found.agent else {}),
                    **{found.kind: found.name},
                    reason="left over from an earlier run",
                    run=found.run,
                )
        except RunnerError as exc:
            emit(self.cleanup_failed, "warning", reason=str(exc))

    # ------------------------------------------------------------------ agents

    def interpreter(self, agent: Agent) -> str:
        return agent.deployment.python or DEFAULT_PYTHON

    def working_dir(self, agent: Agent) -> Path:
        # Inside the container; informative only, the runner sets the working directory.
        return Path(agent.deployment.workdir or "/")

    def reload_prepare(self, reloaded: Reloaded) -> None:
        """Take the new host ports: an added or changed agent's object publishes the
        port the new plan gave it (and its URL names); running objects keep theirs."""
        self.host_ports.update(reloaded.host_ports)
        super().reload_prepare(reloaded)

    # ------------------------------------------------------------------ after the stop

    def close(self) -> None:
        with self._lock:
            api = self._api
        if api is None:
            return
        emit = self.context.emit
        try:
            self.clear_run(api)
        except RunnerError as exc:
            emit(self.cleanup_failed, "warning", reason=str(exc))
        except Exception as exc:  # the Engine went away; `agentsup down` can finish
            emit(self.cleanup_failed, "warning",
                 reason=f"cannot reach the Docker Engine at {self.engine}: {exc}")
        finally:
            api.close()

    @abc.abstractmethod
    def clear_run(self, api: Any) -> None:
        """Remove what this run still has on the Engine, an event for each."""

    @classmethod
    def down(cls, context: BackendContext, agents: list[Agent]) -> list[str]:
        api = connect(address=cls.engine_for(context))
        try:
            return [found.describe() for found in cls.clear_job(api, context.job_name)]
        finally:
            api.close()

