"""One agent as one Swarm service at a time.

A launch creates the service (one replica, Swarm's restarts off) and waits, polling the
manager, until its task runs: then the node that runs it is known, and with it the URL
the supervisor and agents outside the swarm use (bound in `agentsup.liveurls`). A task
Swarm cannot place (no node satisfies the constraints) or a node rejects (the image is
missing) or fails to start (its published port is taken on the node) fails the launch
with Swarm's own reason.

Once the task runs, two daemon threads take over:

- the reader follows the service's logs, splits each stream into lines (stdout and
  stderr kept apart) and passes each on;
- the watcher polls the task until it is over (its container exited, or the service was
  removed), gives the reader a moment to drain, closes the log stream (Swarm never ends
  a followed one), and reports the exit exactly once.

agentsup, not Swarm, decides about restarts: a restart is a new service under the same
name, so the restart policy, budget and back-off mean the same thing on every target.
What it shares with the container target is in `_engine_object.EngineObjectRunner`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from typing import Any

import docker.errors
import msgspec

from agentsup import liveurls
from agentsup.runners._engine_object import EngineObjectRunner, pump_output
from agentsup.runners._swarm_engine import (
    ServiceLogs,
    ServiceSettings,
    create_service,
    node_address,
    remove_service,
    service_tasks,
    task_outcome,
)
from agentsup.runners.base import (
    ExitCallback,
    ExitStatus,
    LaunchSpec,
    OutputCallback,
    RunnerError,
    StartInfo,
)

logger = logging.getLogger(__name__)

POLL_INTERVAL = 0.25
"""Seconds between looks at a task: Swarm's events carry no exit codes, tasks do."""
DRAIN_TIMEOUT = 1.0
"""Seconds the watcher gives the readers to pass on the last lines before reporting."""
STOP_MARGIN = 15.0
"""Seconds beyond the grace period a stop waits for Swarm to take the task down."""


class _Launch(msgspec.Struct):
    """One service: the state of one `start`."""

    service_id: str
    task_id: str
    node: str
    logs: ServiceLogs
    address: str = ""
    """The node's address, where the published port answers."""
    exited: threading.Event = msgspec.field(default_factory=threading.Event)
    """Set once the exit callback has run."""
    reader: threading.Thread | None = None


class SwarmRunner(EngineObjectRunner[ServiceSettings, _Launch]):
    """Runs one agent as a service; a restart creates a new service."""

    kind = "service"
    thread_prefix = "swarm"

    @property
    def node(self) -> str | None:
        """The node the current task runs on (host name and address)."""
        launch = self._launch
        return None if launch is None else launch.node

    # ------------------------------------------------------------------ start

    def _find_named(self) -> tuple[str, Mapping[str, str]] | None:
        try:
            existing = self._api.inspect_service(self.settings.name)
        except docker.errors.NotFound:
            return None
        return existing["ID"], (existing.get("Spec") or {}).get("Labels") or {}

    def _remove_leftover(self, object_id: str) -> None:
        self._remove_service(object_id)

    def _create(self, spec: LaunchSpec) -> str:
        return create_service(self._api, self.settings, spec)

    def _begin(self, object_id: str) -> tuple[_Launch, StartInfo]:
        """Wait until Swarm runs the task: only then is its node, and the URL, known."""
        try:
            task = self._wait_running(object_id)
            name, address = node_address(self._api, task["NodeID"])
            logs = ServiceLogs(self._api, object_id)
        except BaseException:
            self._remove_service(object_id)
            raise
        pid = int((task["Status"].get("ContainerStatus") or {}).get("PID") or 0)
        launch = _Launch(object_id, task["ID"], f"{name} ({address})", logs, address=address)
        return launch, StartInfo(pid=pid, host=launch.node)

    def _follow(
        self, launch: _Launch, spec: LaunchSpec, on_output: OutputCallback,
        on_exit: ExitCallback,
    ) -> None:
        settings = self.settings
        liveurls.bind(settings.agent_id, f"http://{launch.address}:{settings.published_port}")
        launch.reader = threading.Thread(
            target=self._read, args=(launch, on_output),
            name=f"swarm-out-{spec.agent_id}", daemon=True,
        )
        launch.reader.start()
        threading.Thread(
            target=self._watch, args=(launch, on_exit),
            name=f"swarm-watch-{spec.agent_id}", daemon=True,
        ).start()

    def _wait_running(self, service_id: str) -> dict[str, Any]:
        """The service's task once it runs (or has already ended: its exit is then
        reported by the watcher); a task Swarm cannot place fails the launch."""
        settings = self.settings
        deadline = time.monotonic() + settings.schedule_timeout
        last = "no task yet"
        while True:
            tasks = service_tasks(self._api, service_id)
            for task in tasks:
                outcome = task_outcome(task)
                if outcome.kind in ("unschedulable", "unstarted"):
                    raise RunnerError(
                        f"Swarm cannot run the task of agent {settings.agent_id!r}: "
                        f"{outcome.reason}"
                    )
                if outcome.kind in ("running", "ended") and task.get("NodeID"):
                    return task
                last = (task.get("Status") or {}).get("State", last)
            if time.monotonic() >= deadline:
                raise RunnerError(
                    f"the task of agent {settings.agent_id!r} did not start within "
                    f"{settings.schedule_timeout:g} s (last state: {last})"
                )
            time.sleep(POLL_INTERVAL)

    def _remove_service(self, service_id: str) -> None:
        try:
            remove_service(self._api, service_id)
        except RunnerError as exc:
            logger.warning("%s", exc)

    # ------------------------------------------------------------------ I/O threads

    def _read(self, launch: _Launch, on_output: OutputCallback) -> None:
        frames = ((None, chunk) if stream == "stderr" else (chunk, None)
                  for stream, chunk in launch.logs.frames())
        try:
            pump_output(frames, on_output)  # passes the last lines on however it ends
        except Exception as exc:  # closed by the watcher, or the manager went away
            logger.debug("output of service %s ended: %s", launch.service_id, exc)

    def _watch(self, launch: _Launch, on_exit: ExitCallback) -> None:
        status: ExitStatus | None = None
        while status is None:
            try:
                task = self._api.inspect_task(launch.task_id)
            except docker.errors.NotFound:
                status = ExitStatus(None, reason=f"service {self.settings.name} was removed")
                break
            except Exception as exc:
                status = ExitStatus(None, reason=f"lost the swarm manager while waiting: {exc}")
                break
            outcome = task_outcome(task)
            if outcome.kind in ("ended", "unstarted"):
                status = ExitStatus(outcome.exit_code, reason=outcome.reason)
                break
            time.sleep(POLL_INTERVAL)
        if launch.reader is not None:
            launch.reader.join(DRAIN_TIMEOUT)
        launch.logs.close()
        if launch.reader is not None:
            launch.reader.join(DRAIN_TIMEOUT)
        try:
            on_exit(status)
        finally:
            launch.exited.set()

    # ------------------------------------------------------------------ stop and kill

    def stop(self, timeout: float) -> None:
        """Remove the service: Swarm sends the stop signal and, after the grace period
        (the agent's stop_timeout, set when the service was created), SIGKILL. Returns
        once the exit has been reported."""
        launch = self._launch
        if launch is None:
            return
        self._remove(launch)
        if not launch.exited.wait(timeout + STOP_MARGIN):
            logger.warning("the task of service %s has not ended after its removal",
                           self.settings.name)

    def _kill_now(self, launch: _Launch) -> None:
        """Remove the service without waiting. Swarm has no kill for a task on another
        node: the grace period still applies there."""
        self._remove(launch)

    def _remove(self, launch: _Launch) -> None:
        self._remove_service(launch.service_id)

    def close(self) -> None:
        super().close()
        liveurls.unbind(self.settings.agent_id)
