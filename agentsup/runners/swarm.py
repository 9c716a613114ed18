"""Agents as Docker Swarm services, through the Docker SDK's services API.

One `SwarmBackend` per job holds the manager's client and the job's overlay network;
one `SwarmRunner` (in `_swarm_runner`) per agent runs its services. The life of a job:

- `preflight` (changes nothing): the Engine at `deployment.swarm.engine` (default
  DOCKER_HOST, else the local socket) answers and is a swarm manager. Constraint syntax
  was checked when the job file was loaded.
- `prepare`: services and networks an earlier run of the same job left behind (same
  `agentsup.job` label) are removed with `service.removed` / `network.removed` events
  (a network once Swarm has really deleted it: it keeps an overlay that tasks of removed
  services still use, and its name taken, until those tasks are over); the job's
  attachable overlay network is created (`network.created`).
- each launch: a service with one replica on the overlay, the agent id as its alias,
  DNS round-robin endpoints, the port published in host mode, Swarm's restarts off.
- `close`, once every agent has stopped: services this run still has are removed, then
  the overlay network.

What it shares with the container target (the client, clearing by label, the close) is
`_engine_object.EngineBackend`'s. See docs/swarm.md for the networking and the URLs.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import docker.errors

from agentsup.job.docker_names import overlay_name
from agentsup.job.models import Agent
from agentsup.runners._docker_engine import Found, labels
from agentsup.runners._engine_object import EngineBackend
from agentsup.runners._swarm_engine import (
    clear_job,
    manager_problem,
    service_settings,
    swarm_engine,
)
from agentsup.runners._swarm_runner import SwarmRunner
from agentsup.runners.base import BackendContext, Runner, RunnerError

__all__ = ["SwarmBackend", "SwarmRunner"]


class SwarmBackend(EngineBackend):
    """The swarm agents of one job on one swarm."""

    cleanup_failed = "swarm.cleanup_failed"
    connections_per_agent = 3  # two log streams per service and one watcher poll

    def __init__(self, context: BackendContext, agents: list[Agent]) -> None:
        super().__init__(context, agents)
        self.network = overlay_name(self.job_name)

    @classmethod
    def engine_for(cls, context: BackendContext) -> str:
        return swarm_engine(context.swarm)

    @staticmethod
    def clear_job(api: Any, job: str) -> Iterator[Found]:
        return clear_job(api, job)

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
        self.clear_leftovers(api)
        try:
            api.create_network(
                self.network, driver="overlay", attachable=True, check_duplicate=True,
                labels=labels(self.job_name, self.context.run_id),
            )
        except docker.errors.APIError as exc:
            if exc.status_code == 409:  # the clear-up's warning says why it is still there
                raise RunnerError(
                    f"cannot create overlay network {self.network!r} on {self.engine}: a "
                    "network of that name is still there"
                ) from exc
            raise RunnerError(
                f"cannot create overlay network {self.network!r} on {self.engine}: "
                f"{exc.explanation or exc}"
            ) from exc
        except Exception as exc:
            raise RunnerError(
                f"cannot create overlay network {self.network!r} on {self.engine}: {exc}"
            ) from exc
        self.context.emit("network.created", network=self.network, driver="overlay")

    # ------------------------------------------------------------------ agents

    def runner_for(self, agent: Agent) -> Runner:
        context = self.context
        settings = service_settings(
            context.job_name, context.start_timeout, agent, self.network,
            self.host_ports[agent.id],
            labels(self.job_name, context.run_id, agent.id),
        )
        return SwarmRunner(self._client(), settings)

    # ------------------------------------------------------------------ after the stop

    def clear_run(self, api: Any) -> None:
        emit = self.context.emit
        for found in clear_job(api, self.job_name, self.context.run_id):
            if found.kind == "network":
                emit("network.removed", network=found.name)
            else:
                emit("service.removed", agent=found.agent, service=found.name,
                     reason="still there when the job stopped")
