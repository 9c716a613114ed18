"""Agents in Docker containers, through the Docker SDK for Python.

One `DockerBackend` per job holds the Engine client and the job's networks; one
`DockerRunner` (in `_docker_runner`) per agent runs its containers. The life of a job:

- `preflight` (changes nothing): the Engine answers; every image is there, or may be
  pulled; no container name is taken by someone else; no host port is in use.
- `prepare`: containers and networks an earlier run of the same job left behind (same
  `agentsup.job` label) are removed, each with a `container.removed` or
  `network.removed` event; images are pulled where `pull` allows it; the job's networks
  are created (`network.created`).
- each launch: a fresh container on the agent's network with its id as an alias, its
  port published on 127.0.0.1 (on every address when an agent on another machine
  connects to it, as the plan says), `host.docker.internal` pointing at the Docker host, an
  init process as PID 1.
- `close`, once every agent has stopped: whatever this run still has is removed, then
  the networks it created.

What it shares with the swarm target (the client, clearing by label, the close) is
`_engine_object.EngineBackend`'s. See docs/containers.md for the networking and the URLs.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from agentsup.job.docker_names import network_of
from agentsup.job.models import Agent
from agentsup.plan import PUBLISHED_ADDRESS
from agentsup.ports import port_in_use
from agentsup.runners._docker_engine import (
    Found,
    clear_job,
    container_name,
    engine_address,
    engine_is_local,
    image_present,
    inspect_container,
    job_containers,
    labels,
    memory_bytes,
    nano_cpus,
    network_exists,
    pull_image,
    remove_container,
    remove_network,
)
from agentsup.runners._docker_runner import ContainerSettings, DockerRunner
from agentsup.runners._engine_object import EngineBackend
from agentsup.runners.base import BackendContext, Reloaded, Runner, RunnerError

__all__ = ["ContainerSettings", "DockerBackend", "DockerRunner"]

class DockerBackend(EngineBackend):
    """The container agents of one job on one Docker Engine."""

    cleanup_failed = "docker.cleanup_failed"
    connections_per_agent = 2  # the output stream and the wait call of its container

    def __init__(self, context: BackendContext, agents: list[Agent]) -> None:
        super().__init__(context, agents)
        self._created_networks: list[str] = []
        self.published: dict[str, str] = dict(context.published)
        """Where each agent's port is published on the host; a reload changes it."""

    @classmethod
    def engine_for(cls, context: BackendContext) -> str:
        return engine_address()

    @staticmethod
    def clear_job(api: Any, job: str) -> Iterator[Found]:
        return clear_job(api, job)

    # ------------------------------------------------------------------ the Engine

    def _pull_wanted(self, agent: Agent) -> bool:
        pull = agent.deployment.pull
        return self.context.pull if pull is None else pull

    def _images(self, agents: list[Agent]) -> dict[str, list[Agent]]:
        images: dict[str, list[Agent]] = {}
        for agent in agents:
            assert agent.deployment.image is not None  # the loader guarantees it
            images.setdefault(agent.deployment.image, []).append(agent)
        return images

    # ------------------------------------------------------------------ before the start

    def preflight(self) -> list[str]:
        try:
            api = self._client()
        except RunnerError as exc:
            return [str(exc)]
        leftovers = job_containers(api, self.job_name)
        return self._problems(api, self.agents, leftovers, self.host_ports)

    def _problems(
        self, api: Any, agents: list[Agent], ours: list[Found], ports: Mapping[str, int]
    ) -> list[str]:
        """What keeps `agents` from being launched; `ours` are containers of this job
        (left over, or running now), whose names and host ports may be taken over."""
        problems: list[str] = []
        job = self.job_name
        our_ids = {found.id for found in ours}
        our_ports = {port for found in ours for port in found.host_ports}

        for image, users in self._images(agents).items():
            if image_present(api, image) or all(self._pull_wanted(a) for a in users):
                continue
            ids = ", ".join(repr(a.id) for a in users)
            problems.append(
                f"image {image!r} (agent {ids}) is not on the Docker Engine at "
                f"{engine_address()}; build or load it there, or set `pull: true` to pull it"
            )

        for agent in agents:
            name = container_name(job, agent)
            existing = inspect_container(api, name)
            if existing is not None and existing["Id"] not in our_ids:
                problems.append(
                    f"container name {name!r} of agent {agent.id!r} is taken by a container "
                    f"agentsup did not create for job {job!r}"
                )
            port = ports[agent.id]
            if engine_is_local() and port not in our_ports and port_in_use(port):
                problems.append(
                    f"host port {port} of agent {agent.id!r} is already in use on this "
                    "machine; free it or choose another with `deployment.host_port`"
                )
        return problems

    def prepare(self) -> None:
        api = self._client()
        self.clear_leftovers(api)
        self._make_ready(api, self.agents)

    def _make_ready(self, api: Any, agents: list[Agent]) -> None:
        """Pull the images `agents` lack (where allowed), create the networks they lack."""
        emit = self.context.emit
        for image, users in self._images(agents).items():
            if not image_present(api, image) and any(self._pull_wanted(a) for a in users):
                emit("image.pulling", image=image)
                pull_image(api, image)
                emit("image.pulled", image=image)

        for network in sorted({network_of(self.job_name, a) for a in agents}):
            if network_exists(api, network):
                continue
            try:
                api.create_network(
                    network, driver="bridge",
                    labels=labels(self.job_name, self.context.run_id),
                )
            except Exception as exc:
                raise RunnerError(f"cannot create Docker network {network!r}: {exc}") from exc
            self._created_networks.append(network)
            emit("network.created", network=network)

    # ------------------------------------------------------------------ a reload

    def reload_preflight(self, reloaded: Reloaded) -> list[str]:
        """The start's checks for the new and changed agents: their images, names and
        host ports; this job's own containers may keep theirs until they are replaced."""
        fresh = reloaded.fresh(self.agents)
        if not fresh:
            return []
        try:
            api = self._client()
        except RunnerError as exc:
            return [str(exc)]
        try:
            return self._problems(
                api, fresh, job_containers(api, self.job_name), reloaded.host_ports)
        except Exception as exc:  # the Engine went away since the start
            return [f"cannot check the new containers on the Docker Engine at "
                    f"{self.engine}: {exc}"]

    def reload_prepare(self, reloaded: Reloaded) -> None:
        """Pull and create what the new and changed agents need, then take the new host
        ports (`EngineBackend`)."""
        fresh = reloaded.fresh(self.agents)
        if fresh:
            try:
                self._make_ready(self._client(), fresh)
            except RunnerError:
                raise
            except Exception as exc:  # the Engine went away, or answered nonsense
                raise RunnerError(
                    f"cannot prepare the new containers on the Docker Engine at "
                    f"{self.engine}: {exc}") from exc
        self.published.update(reloaded.published)
        super().reload_prepare(reloaded)

    # ------------------------------------------------------------------ agents

    def container_settings(self, agent: Agent) -> ContainerSettings:
        job = self.job_name
        resources = agent.resources
        assert agent.deployment.image is not None  # the loader guarantees it
        return ContainerSettings(
            job=job,
            agent_id=agent.id,
            name=container_name(job, agent),
            image=agent.deployment.image,
            network=network_of(job, agent),
            port=agent.config.port,
            host_port=self.host_ports[agent.id],
            publish_address=self.published.get(agent.id, PUBLISHED_ADDRESS),
            labels=labels(job, self.context.run_id, agent.id),
            working_dir=agent.deployment.workdir,
            nano_cpus=nano_cpus(resources.cpu) if resources and resources.cpu else None,
            mem_limit=memory_bytes(resources.memory) if resources and resources.memory else None,
            gpus=resources.gpu if resources and resources.gpu else None,
        )

    def runner_for(self, agent: Agent) -> Runner:
        return DockerRunner(self._client(), self.container_settings(agent))

    # ------------------------------------------------------------------ after the stop

    def clear_run(self, api: Any) -> None:
        emit = self.context.emit
        for found in job_containers(api, self.job_name, self.context.run_id):
            if remove_container(api, found.id):
                emit("container.removed", agent=found.agent, container=found.name,
                     reason="still there when the job stopped")
        for network in self._created_networks:
            if remove_network(api, network):
                emit("network.removed", network=network)

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._created_networks.clear()
