"""One agent in one Docker container at a time.

A launch creates the container, attaches to its output (before it starts, so no line is
missed), starts it, and hands the rest to two daemon threads:

- the reader splits the demultiplexed output stream into lines, stdout and stderr kept
  apart, and passes each to the output callback;
- the waiter blocks in the Engine's `wait` until the container stops, lets the reader
  drain, reports the exit code, and removes the container.

Nothing polls: the exit is reported the moment the Engine sees it, whoever caused it
(the agent itself, `docker kill`, the OOM killer).

What every target with one Engine object per agent does alike (one launch at a time, a
leftover under the agent's name, the Engine's refusals explained, removal on close) is
`_engine_object.EngineObjectRunner`'s.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

import docker.errors
import docker.types
import msgspec

from agentsup.plan import PUBLISHED_ADDRESS
from agentsup.runners._docker_engine import (
    HOST_GATEWAY,
    inspect_container,
    remove_container,
)
from agentsup.runners._engine_object import EngineObjectRunner, pump_output
from agentsup.runners.base import (
    ExecResult,
    ExitCallback,
    ExitStatus,
    LaunchSpec,
    OutputCallback,
    RunnerError,
    StartInfo,
)

logger = logging.getLogger(__name__)

DRAIN_TIMEOUT = 2.0
"""Seconds the waiter gives the reader to pass on the last lines before reporting."""
_STUCK_WARNING_INTERVAL = 10.0
LEFTOVER_REMOVAL_WAIT = 30.0
"""Seconds a launch waits for another thread's removal of the container under its name."""


class ContainerSettings(msgspec.Struct, frozen=True):
    """What the runner needs beyond the `LaunchSpec`: the container's side of things."""

    job: str
    agent_id: str
    name: str
    image: str
    network: str
    port: int
    host_port: int
    labels: dict[str, str]
    publish_address: str = PUBLISHED_ADDRESS
    """The address of the Docker host the port is published on (`plan.published`)."""
    working_dir: str | None = None
    nano_cpus: int | None = None
    mem_limit: int | None = None
    gpus: int | None = None
    engine: str = "localhost"


OUT_OF_MEMORY = "out of memory"
"""The exit reason of a container the kernel killed at its memory limit."""


class _Launch(msgspec.Struct):
    """One container: the state of one `start`."""

    id: str
    name: str
    stream: Any
    exited: threading.Event = msgspec.field(default_factory=threading.Event)
    """Set once the exit callback has run."""
    threads: list[threading.Thread] = msgspec.field(default_factory=list)


class DockerRunner(EngineObjectRunner[ContainerSettings, _Launch]):
    """Runs one agent as a container; a restart creates a new container."""

    kind = "container"
    thread_prefix = "docker"

    @property
    def container_id(self) -> str | None:
        launch = self._launch
        return None if launch is None else launch.id

    # ------------------------------------------------------------------ start

    def _find_named(self) -> tuple[str, Mapping[str, str]] | None:
        existing = inspect_container(self._api, self.settings.name)
        if existing is None:
            return None
        return existing["Id"], (existing.get("Config") or {}).get("Labels") or {}

    def _remove_leftover(self, object_id: str) -> None:
        """Remove it, and wait until it is gone: when a reload replaces the agent, the
        old launch's waiter may be removing the same container right now, and the Engine
        keeps the name taken until that removal is done."""
        if remove_container(self._api, object_id):
            return
        deadline = time.monotonic() + LEFTOVER_REMOVAL_WAIT
        while inspect_container(self._api, object_id) is not None:
            if time.monotonic() > deadline:
                raise RunnerError(
                    f"container {self.settings.name} of agent {self.settings.agent_id!r} "
                    f"was still being removed after {LEFTOVER_REMOVAL_WAIT:g} s"
                )
            time.sleep(0.05)

    def _begin(self, object_id: str) -> tuple[_Launch, StartInfo]:
        """Attach to the output before the start, so that no line is missed."""
        try:
            stream = self._api.attach(
                object_id, stdout=True, stderr=True, stream=True, logs=True, demux=True
            )
            self._api.start(object_id)
            state = self._api.inspect_container(object_id)["State"]
        except docker.errors.APIError as exc:
            remove_container(self._api, object_id)
            raise RunnerError(self._explain("cannot start", exc)) from exc
        launch = _Launch(id=object_id, name=self.settings.name, stream=stream)
        return launch, StartInfo(pid=int(state.get("Pid") or 0), host=self.settings.name)

    def _follow(
        self, launch: _Launch, spec: LaunchSpec, on_output: OutputCallback,
        on_exit: ExitCallback,
    ) -> None:
        reader = threading.Thread(
            target=self._read, args=(launch, on_output),
            name=f"docker-out-{spec.agent_id}", daemon=True,
        )
        waiter = threading.Thread(
            target=self._wait, args=(launch, on_exit),
            name=f"docker-wait-{spec.agent_id}", daemon=True,
        )
        launch.threads = [reader, waiter]
        reader.start()
        waiter.start()

    def _create(self, spec: LaunchSpec) -> str:
        settings = self.settings
        api = self._api
        device_requests = None
        if settings.gpus:
            device_requests = [
                docker.types.DeviceRequest(count=settings.gpus, capabilities=[["gpu"]])
            ]
        host_config = api.create_host_config(
            network_mode=settings.network,
            port_bindings={settings.port: (settings.publish_address, settings.host_port)},
            extra_hosts=dict(HOST_GATEWAY),
            init=True,
            nano_cpus=settings.nano_cpus,
            mem_limit=settings.mem_limit,
            device_requests=device_requests,
        )
        networking = api.create_networking_config(
            {settings.network: api.create_endpoint_config(aliases=[settings.agent_id])}
        )
        created = api.create_container(
            image=settings.image,
            command=list(spec.argv),
            name=settings.name,
            environment=dict(spec.env),
            labels=dict(settings.labels),
            ports=[settings.port],
            working_dir=settings.working_dir,
            host_config=host_config,
            networking_config=networking,
            stop_timeout=max(math.ceil(spec.stop_timeout), 1),
            stop_signal=spec.stop_signal,
        )
        container_id: str = created["Id"]
        return container_id

    def _explain(self, doing: str, exc: docker.errors.APIError) -> str:
        text = str(exc.explanation or exc)
        if "port is already allocated" in text or "address already in use" in text:
            settings = self.settings
            return (
                f"{doing} container {settings.name} of agent {settings.agent_id!r}: host port "
                f"{settings.publish_address}:{settings.host_port} is already in use"
            )
        return super()._explain(doing, exc)

    # ------------------------------------------------------------------ I/O threads

    def _read(self, launch: _Launch, on_output: OutputCallback) -> None:
        try:
            pump_output(launch.stream, on_output)
        except Exception as exc:  # the connection went; the waiter reports the exit
            logger.debug("output of container %s ended: %s", launch.name, exc)
        finally:
            _close_quietly(launch.stream)

    def _wait(self, launch: _Launch, on_exit: ExitCallback) -> None:
        status: ExitStatus
        try:
            result = self._api.wait(launch.id, timeout=None)
            code = result.get("StatusCode")
            status = ExitStatus(int(code) if code is not None else None,
                                reason=None if code is not None else "no exit code")
            if code is not None and self._oom_killed(launch):
                status = ExitStatus(int(code), reason=OUT_OF_MEMORY)
        except docker.errors.NotFound:
            status = ExitStatus(None, reason=f"container {launch.name} was removed")
        except Exception as exc:
            status = ExitStatus(None, reason=f"lost the Docker Engine while waiting: {exc}")
        launch.threads[0].join(DRAIN_TIMEOUT)
        try:
            on_exit(status)
        finally:
            launch.exited.set()
            self._remove(launch)

    def _oom_killed(self, launch: _Launch) -> bool:
        """Whether the kernel's OOM killer ended the container; read before it is removed,
        since the exit code alone (137) looks like any SIGKILL."""
        try:
            state = self._api.inspect_container(launch.id).get("State") or {}
        except Exception as exc:  # removed already, or the Engine went away
            logger.debug("inspecting container %s after its exit: %s", launch.name, exc)
            return False
        return bool(state.get("OOMKilled"))

    # ------------------------------------------------------------------ stop and kill

    def stop(self, timeout: float) -> None:
        """Docker's stop (the stop signal, SIGKILL after `timeout`), then remove the container.

        Returns once the exit has been reported and the container is gone.
        """
        launch = self._launch
        if launch is None:
            return
        if not launch.exited.is_set():
            try:
                self._api.stop(launch.id, timeout=max(math.ceil(timeout), 0))
            except docker.errors.NotFound:
                pass
            except docker.errors.APIError as exc:
                logger.warning("docker stop of %s: %s", launch.name, exc.explanation or exc)
            except Exception as exc:  # the Engine went away; the waiter reports that
                logger.warning("docker stop of %s: %s", launch.name, exc)
            while not launch.exited.wait(_STUCK_WARNING_INTERVAL):
                logger.warning("container %s has not exited after docker stop", launch.name)
        self._remove(launch)

    def _kill_now(self, launch: _Launch) -> None:
        try:
            self._api.kill(launch.id)
        except Exception as exc:  # gone, not running any more, or no Engine
            logger.debug("docker kill of %s: %s", launch.name, exc)

    def execute(self, argv: Sequence[str], timeout: float) -> ExecResult:
        """`docker exec` in the agent's container (its environment, its working
        directory). The Engine cannot time an exec out, so a check that overruns is
        given up on and left to end with the container."""
        launch = self._launch
        if launch is None or launch.exited.is_set():
            raise RunnerError("the agent's container is not running")
        outcome: list[ExecResult | BaseException] = []

        def work() -> None:
            try:
                exec_id = self._api.exec_create(
                    launch.id, list(argv), workdir=self.settings.working_dir
                )["Id"]
                output = self._api.exec_start(exec_id) or b""
                code = self._api.exec_inspect(exec_id).get("ExitCode")
                outcome.append(ExecResult(code, output.decode(errors="replace")[-300:]))
            except Exception as exc:
                outcome.append(exc)

        thread = threading.Thread(target=work, name="docker-exec", daemon=True)
        thread.start()
        thread.join(timeout)
        if not outcome:
            return ExecResult(None, "")
        result = outcome[0]
        if isinstance(result, BaseException):
            raise RunnerError(f"docker exec failed: {result}")
        return result

    def _remove(self, launch: _Launch) -> None:
        try:
            remove_container(self._api, launch.id)
        except RunnerError as exc:
            logger.warning("%s", exc)


def _close_quietly(stream: Any) -> None:
    try:
        stream.close()
    except Exception as exc:
        logger.debug("closing an output stream: %s", exc)
