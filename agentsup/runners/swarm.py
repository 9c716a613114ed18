"""Agents as Docker Swarm services, through the Docker SDK's services API.

One `SwarmBackend` per job holds the manager's client and the job's overlay network;
one `SwarmRunner` (in `_swarm_runner`) per agent runs its services. The life of a job:

- `preflight` (changes nothing): the Engine at `deployment.swarm.engine` (default
  DOCKER_HOST, else the local socket) answers and is a swarm manager. Constraint syntax
  was checked when the job file was loaded.
- `prepare`: services and networks an earlier run of the same job left behind (same
  `agentsup.job` label) are removed with `service.removed` / `network.removed` events;
  the job's attachable overlay network is created (`network.created`).
- each launch: a service with one replica on the overlay, the agent id as its alias,
  DNS round-robin endpoints, the port published in host mode, Swarm's restarts off.
- `close`, once every agent has stopped: services this run still has are removed, then
  the overlay network.

See docs/swarm.md for the networking and the URLs.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from agentsup.job.models import Agent
from agentsup.runners._docker_engine import labels
from agentsup.runners._swarm_engine import (
    clear_job,
    connect,
    manager_problem,
    overlay_name,
    service_settings,
    swarm_engine,
)
from agentsup.runners._swarm_runner import SwarmRunner
from agentsup.runners.base import Backend, BackendContext, Runner, RunnerError

__all__ = ["SwarmBackend", "SwarmRunner"]

DEFAULT_PYTHON = "python3"
"""The interpreter for `module` agents inside the image, unless `deployment.python`."""


class SwarmBackend(Backend):
    """The swarm agents of one job on one swarm."""

    def __init__(self, context: BackendContext, agents: list[Agent]) -> None:
        super().__init__(context, agents)
        self._api: Any = None
        self._lock = threading.Lock()
        self._network_created = False
        self.job_name = context.job_name
        self.engine = swarm_engine(context.swarm)
        self.network = overlay_name(self.job_name)

    def _client(self) -> Any:
        with self._lock:
            if self._api is None:
                # Two log streams per service, one watcher poll, and some spare.
                self._api = connect(self.engine, max_pool_size=3 * len(self.agents) + 8)
            return self._api

    # ------------------------------------------------------------------ before the start

    def preflight(self) -> list[str]:
        try:
            api = self._client()
            problem = manager_problem(api, self.engine)
        except RunnerError as exc:
            return [str(exc)]
        except Exception as exc:  # the Engine answered the ping but not `info`
            return [f"cannot ask the Docker Engine at {self.engine} about its swarm: {exc}"]
        return [] if problem is None else [problem]

    def prepare(self) -> None:
        api = self._client()
        emit = self.context.emit
        try:
            for found in clear_job(api, self.job_name):
                emit(
                    f"{found.kind}.removed",
                    **({"agent": found.agent} if found.agent else {}),
                    **{found.kind: found.name},
                    reason="left over from an earlier run",
                    run=found.run,
                )
        except RunnerError as exc:
            emit("swarm.cleanup_failed", "warning", reason=str(exc))
        try:
            api.create_network(
                self.network, driver="overlay", attachable=True, check_duplicate=True,
                labels=labels(self.job_name, self.context.run_id),
            )
        except Exception as exc:
            raise RunnerError(
                f"cannot create overlay network {self.network!r} on {self.engine}: {exc}"
            ) from exc
        self._network_created = True
        emit("network.created", network=self.network, driver="overlay")

    # ------------------------------------------------------------------ agents

    def interpreter(self, agent: Agent) -> str:
        return agent.deployment.python or DEFAULT_PYTHON

    def working_dir(self, agent: Agent) -> Path:
        # Inside the container; informative only, the service sets `workdir`.
        return Path(agent.deployment.workdir or "/")

    def runner_for(self, agent: Agent) -> Runner:
        context = self.context
        settings = service_settings(
            context.job_name, context.start_timeout, agent, self.network,
            context.host_ports[agent.id],
            labels(self.job_name, context.run_id, agent.id),
        )
        return SwarmRunner(self._client(), settings)

    # ------------------------------------------------------------------ after the stop

    def close(self) -> None:
        with self._lock:
            api = self._api
        if api is None:
            return
        emit = self.context.emit
        try:
            for found in clear_job(api, self.job_name, self.context.run_id):
                if found.kind == "network":
                    emit("network.removed", network=found.name)
                else:
                    emit("service.removed", agent=found.agent, service=found.name,
                                reason="still there when the job stopped")
        except RunnerError as exc:
            emit("swarm.cleanup_failed", "warning", reason=str(exc))
        except Exception as exc:  # the manager went away; `agentsup down` can finish
            emit("swarm.cleanup_failed", "warning",
                        reason=f"cannot reach the Docker Engine at {self.engine}: {exc}")
        finally:
            api.close()

    @classmethod
    def down(cls, context: BackendContext, agents: list[Agent]) -> list[str]:
        api = connect(swarm_engine(context.swarm))
        try:
            return [found.describe() for found in clear_job(api, context.job_name)]
        finally:
            api.close()
