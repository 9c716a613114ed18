"""The topology resolver: a job in, a deployment plan out.

The plan says which agents start together (stages), where the supervisor reaches each
agent, and which URLs each agent is given for the peers it connects to. It is a pure
function of the job; the only outside fact it needs, how SSH aliases map to host names,
is passed in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from graphlib import TopologicalSorter
from typing import Any, Protocol

import msgspec

from agentsup.job.graph import TopologyGraph, build_graph
from agentsup.job.models import Agent, JobDefinition, Strategy, Target
from agentsup.liveurls import placeholder


class HostNameLookup(Protocol):
    """The address an SSH alias stands for, given the user and port the connection uses."""

    def __call__(self, alias: str, user: str | None = None, port: int | None = None) -> str: ...


def _same_name(alias: str, user: str | None = None, port: int | None = None) -> str:
    return alias

DOCKER_HOST_FROM_CONTAINER = "host.docker.internal"
PUBLISHED_ADDRESS = "127.0.0.1"
"""Where a container agent's port is published on the Docker host (the Docker runner
publishes there), and so the address its URL names on this machine. Not `localhost`:
where that name means ::1 first (a stock /etc/hosts), a program of someone else's
listening on [::1]:PORT would answer for the container."""
EVERY_ADDRESS = "0.0.0.0"
"""Where a container agent's port is published instead when an agent on another machine
(a remote or swarm agent) connects to it: 127.0.0.1 cannot be reached from there."""


class DeploymentPlan(msgspec.Struct, frozen=True):
    job: str
    strategy: Strategy
    stages: tuple[tuple[str, ...], ...]
    agent_urls: Mapping[str, str]
    """Where the supervisor (on this machine) reaches each agent."""
    connections: Mapping[str, tuple[str, ...]]
    """The URLs each agent is given, as seen from where that agent runs."""
    peers: Mapping[str, tuple[str, ...]]
    """The ids each agent connects to, in the same order as `connections`."""
    host_ports: Mapping[str, int] = msgspec.field(default_factory=dict)
    """For container agents: the port published on the Docker host; for swarm agents:
    the port published in host mode on the node that runs the task."""
    published: Mapping[str, str] = msgspec.field(default_factory=dict)
    """For container agents: the address of the Docker host their port is published on,
    `PUBLISHED_ADDRESS`, or `EVERY_ADDRESS` when an agent on another machine connects
    to them."""

    def to_json(self) -> dict[str, Any]:
        return {
            "job": self.job,
            "strategy": self.strategy.value,
            "stages": [list(stage) for stage in self.stages],
            "agent_urls": dict(self.agent_urls),
            "connections": {k: list(v) for k, v in self.connections.items()},
        }

    def connection_map(self, agent_id: str) -> dict[str, str]:
        """`{peer id: url}` for AGENTSUP_CONNECTIONS."""
        return dict(zip(self.peers[agent_id], self.connections[agent_id], strict=True))

    def start_order(self) -> list[str]:
        """Every agent, stage by stage: the resolver puts each one in exactly one stage."""
        return [agent_id for stage in self.stages for agent_id in stage]

    def stage_of(self, agent_id: str) -> int:
        for index, stage in enumerate(self.stages):
            if agent_id in stage:
                return index
        raise KeyError(agent_id)


def start_generations(
    nodes: Iterable[str], edges: Iterable[tuple[str, str]]
) -> list[tuple[str, ...]]:
    """Groups of agents that can start together: a caller starts after every callee.

    The standard library's `graphlib` sorts in the layers a stage needs, without the
    0.1 s that importing a general graph library costs every command.
    """
    sorter: TopologicalSorter[str] = TopologicalSorter()
    for node in nodes:
        sorter.add(node)
    for caller, callee in edges:
        sorter.add(caller, callee)
    sorter.prepare()
    generations: list[tuple[str, ...]] = []
    while sorter.is_active():
        ready = sorter.get_ready()
        generations.append(ready)
        sorter.done(*ready)
    return generations


class _PeerUrls(dict[str, str]):
    """The URLs of peers as callers on one target reach them, each made on first use."""

    def __init__(self, make: Callable[[str], str]) -> None:
        super().__init__()
        self._make = make

    def __missing__(self, callee: str) -> str:
        url = self[callee] = self._make(callee)
        return url


class TopologyResolver:
    """Resolves jobs into plans; holds only the host-name lookup."""

    def __init__(
        self,
        host_names: HostNameLookup = _same_name,
        local_host: str = "localhost",
    ) -> None:
        self._host_names = host_names
        self._local_host = local_host
        self._advertised: str | None = None
        self._host_ports: dict[str, int] = {}

    def resolve(self, job: JobDefinition, graph: TopologyGraph | None = None) -> DeploymentPlan:
        """The plan of `job`; pass the graph the loader built to spare building it again."""
        self._advertised = job.deployment.network.advertise_host or self._local_host
        self._host_ports = assign_host_ports(job)
        ids = [agent.id for agent in job.agents]
        if graph is None:
            graph = build_graph(job.topology, ids)
        order = [m for m in graph.members if m in ids] + [i for i in ids if i not in graph.members]
        rank = {agent_id: index for index, agent_id in enumerate(order)}

        if graph.ordering:
            generations = [
                sorted(generation, key=rank.__getitem__)
                for generation in start_generations(order, graph.edges)
            ]
        else:
            generations = [order]

        stages = _apply_strategy(job.deployment.strategy, generations, order)
        agents = {agent.id: agent for agent in job.agents}
        peers: dict[str, list[str]] = {agent_id: [] for agent_id in ids}
        afar = {agent.id for agent in job.agents
                if agent.deployment.target in (Target.REMOTE, Target.SWARM)}
        reached_from_afar: set[str] = set()
        for caller, callee in graph.edges:
            peers[caller].append(callee)
            if caller in afar:
                reached_from_afar.add(callee)
        agent_urls = {a: self._supervisor_url(agents[a]) for a in ids}
        # A peer's URL depends on where the caller runs, not on which agent it is: one
        # per (caller's target, peer), not one per edge (a 200-agent mesh has 39,800),
        # and each caller's list is made by a lookup per peer in C (`map`).
        peer_urls: dict[Target, _PeerUrls] = {}

        def urls_from(caller: Agent) -> _PeerUrls:
            target = caller.deployment.target
            urls = peer_urls.get(target)
            if urls is None:
                urls = peer_urls[target] = _PeerUrls(
                    lambda callee: self._peer_url(caller, agents[callee], agent_urls))
            return urls

        return DeploymentPlan(
            job=job.job.name,
            strategy=job.deployment.strategy,
            stages=tuple(tuple(stage) for stage in stages),
            agent_urls=agent_urls,
            connections={a: tuple(map(urls_from(agents[a]).__getitem__, peers[a]))
                         for a in ids},
            peers={a: tuple(peers[a]) for a in ids},
            host_ports=dict(self._host_ports),
            published={
                agent.id: EVERY_ADDRESS if agent.id in reached_from_afar else PUBLISHED_ADDRESS
                for agent in job.agents if agent.deployment.target is Target.CONTAINER
            },
        )

    def _supervisor_url(self, agent: Agent) -> str:
        deployment = agent.deployment
        if deployment.target is Target.REMOTE and deployment.host:
            host = self._host_names(deployment.host, deployment.user, deployment.port)
            return f"http://{host}:{agent.config.port}"
        if deployment.target is Target.CONTAINER:
            return f"http://{PUBLISHED_ADDRESS}:{self._host_ports[agent.id]}"
        if deployment.target is Target.SWARM:
            # The node is chosen by Swarm at launch; the runner binds the real URL.
            return placeholder(agent.id, self._host_ports[agent.id])
        return f"http://localhost:{agent.config.port}"

    def _peer_url(self, caller: Agent, callee: Agent, agent_urls: Mapping[str, str]) -> str:
        """The URL for `callee` that works from where `caller` runs (from the caller's
        target alone); `agent_urls` are the supervisor's, which serve the other cases."""
        caller_target = caller.deployment.target
        callee_target = callee.deployment.target
        if caller_target is Target.CONTAINER:
            if callee_target is Target.CONTAINER:
                return f"http://{callee.id}:{callee.config.port}"
            if callee_target is Target.LOCALHOST:
                return f"http://{DOCKER_HOST_FROM_CONTAINER}:{callee.config.port}"
        if caller_target is Target.SWARM:
            if callee_target is Target.SWARM:
                return f"http://{callee.id}:{callee.config.port}"  # on the job's overlay
            if callee_target in (Target.LOCALHOST, Target.CONTAINER):
                return f"http://{self._advertised or self._local_host}:" \
                    f"{self._host_ports.get(callee.id, callee.config.port)}"
        if caller_target is Target.REMOTE and callee_target in (Target.LOCALHOST,
                                                               Target.CONTAINER):
            # "localhost" on the remote host is the remote host: name this machine.
            port = callee.config.port
            if callee_target is Target.CONTAINER:
                port = self._host_ports[callee.id]
            return f"http://{self._advertised or self._local_host}:{port}"
        return agent_urls[callee.id]


def assign_host_ports(job: JobDefinition) -> dict[str, int]:
    """Choose the port each container agent publishes on the Docker host.

    A pinned `host_port` is kept. Otherwise a container publishes its own port number,
    unless another agent of the job already uses that number on this machine (a local
    agent, a pinned port, or an earlier container): then the next number up that the job
    does not use. Whether the machine itself has the port free is checked before start.
    """
    used = {a.config.port for a in job.agents if a.deployment.target is Target.LOCALHOST}
    containers = [a for a in job.agents if a.deployment.target is Target.CONTAINER]
    chosen: dict[str, int] = {}
    for agent in containers:
        if agent.deployment.host_port is not None:
            chosen[agent.id] = agent.deployment.host_port
            used.add(agent.deployment.host_port)
    for agent in job.agents:
        if agent.deployment.target is Target.SWARM:
            # Published in host mode on whichever node runs the task, not on this machine.
            chosen[agent.id] = agent.deployment.host_port or agent.config.port
    for agent in containers:
        if agent.id in chosen:
            continue
        port = agent.config.port
        while port in used and port < 65535:
            port += 1
        chosen[agent.id] = port
        used.add(port)
    return chosen


def _apply_strategy(
    strategy: Strategy, generations: list[list[str]], order: list[str]
) -> list[list[str]]:
    flat = [agent_id for generation in generations for agent_id in generation]
    match strategy:
        case Strategy.STAGED:
            return [list(g) for g in generations if g]
        case Strategy.SEQUENTIAL:
            return [[agent_id] for agent_id in flat]
        case Strategy.PARALLEL:
            # One stage, so the rule "agents keep the order the topology names them" holds.
            return [list(order)] if order else []
        case Strategy.TOP_DOWN:
            return [list(g) for g in reversed(generations) if g]
    raise AssertionError(strategy)  # pragma: no cover - the match is exhaustive
