"""Whole-job checks that the schema alone cannot express.

Each check returns problems rather than raising, so that a user sees everything wrong
with a file at once. Apart from the optional module check (which reads source files
without running them) these are pure functions of the job.
"""

from __future__ import annotations

import graphlib
import re
from collections.abc import Iterator
from pathlib import Path

from agentsup import settings
from agentsup.job import envfiles, imports
from agentsup.job.docker_names import network_of, overlay_name, service_name
from agentsup.job.graph import TopologyGraph
from agentsup.job.models import (
    Agent,
    HealthCheck,
    JobDefinition,
    LevelGroup,
    ProbeSettings,
    ProbeType,
    Target,
    TopologyType,
)
from agentsup.job.placement import constraint_problem, preference_problem
from agentsup.job.problems import DocPath, Problem

REQUIRED_FIELDS: dict[TopologyType, tuple[str, ...]] = {
    TopologyType.HUB_SPOKE: ("hub", "spokes"),
    TopologyType.PIPELINE: ("stages",),
    TopologyType.DAG: ("connections",),
    TopologyType.MESH: (),
    TopologyType.HIERARCHICAL: ("levels",),
    TopologyType.DYNAMIC: (),
}
ALLOWED_FIELDS: dict[TopologyType, frozenset[str]] = {
    TopologyType.HUB_SPOKE: frozenset({"hub", "spokes"}),
    TopologyType.PIPELINE: frozenset({"stages"}),
    TopologyType.DAG: frozenset({"connections"}),
    TopologyType.MESH: frozenset({"agents"}),
    TopologyType.HIERARCHICAL: frozenset({"root", "levels"}),
    TopologyType.DYNAMIC: frozenset(),
}
CYCLE_FIELD: dict[TopologyType, str] = {
    TopologyType.HUB_SPOKE: "spokes",
    TopologyType.PIPELINE: "stages",
    TopologyType.DAG: "connections",
    TopologyType.HIERARCHICAL: "levels",
}
"""Where a cycle is reported: the field whose entries make the edges."""
TOPOLOGY_FIELDS = ("hub", "spokes", "stages", "connections", "agents", "root", "levels")


def check_job(
    job: JobDefinition, graph: TopologyGraph, *, base_dir: Path, import_check: bool
) -> list[Problem]:
    """Every whole-job problem; `graph` is the job's topology graph, built once per load."""
    problems = [
        *_agent_problems(job),
        *_swarm_name_problems(job),
        *_topology_problems(job, graph),
        *_network_problems(job, graph),
        *_port_problems(job),
        *envfiles.env_file_problems(job, base_dir),
        *_log_file_problems(job),
        *_health_problems(job, base_dir),
    ]
    if import_check:
        problems.extend(_import_problems(job, base_dir))
    return problems


def _agent_problems(job: JobDefinition) -> Iterator[Problem]:
    first_index: dict[str, int] = {}
    for i, agent in enumerate(job.agents):
        here = ("agents", i)
        if agent.id in first_index:
            yield Problem(
                (*here, "id"),
                f"agent id {agent.id!r} is already used by agents[{first_index[agent.id]}]; "
                "ids must be unique",
            )
        else:
            first_index[agent.id] = i
        if agent.module is None and agent.command is None:
            yield Problem(
                here, "needs 'module' (run as python -m MODULE) or 'command' (a command line)"
            )
        elif agent.module is not None and agent.command is not None:
            yield Problem((*here, "command"), "give either 'module' or 'command', not both")
        target = agent.deployment.target
        if target is Target.REMOTE and not agent.deployment.host:
            yield Problem(
                (*here, "deployment"), "a remote agent needs 'host' (an SSH host or alias)"
            )
        if target is Target.CONTAINER and not agent.deployment.image:
            yield Problem((*here, "deployment"), "a container agent needs 'image'")
        if target is Target.SWARM:
            yield from _swarm_problems(agent, here)
        elif agent.deployment.placement is not None:
            yield Problem((*here, "deployment", "placement"),
                          "'placement' applies to swarm agents only", on_key=True)


def _swarm_problems(agent: Agent, here: DocPath) -> Iterator[Problem]:
    deployment = agent.deployment
    if not deployment.image:
        yield Problem((*here, "deployment"), "a swarm agent needs 'image'")
    if agent.resources is not None and agent.resources.gpu:
        yield Problem((*here, "resources", "gpu"),
                      "GPUs are not supported for swarm agents; use a placement constraint "
                      "on a node label instead")
    for name in ("network", "container_name"):
        if getattr(deployment, name) is not None:
            yield Problem((*here, "deployment", name),
                          f"{name!r} applies to container agents, not swarm agents",
                          on_key=True)
    placement = deployment.placement
    if placement is None:
        return
    for j, text in enumerate(placement.constraints):
        message = constraint_problem(text)
        if message is not None:
            yield Problem((*here, "deployment", "placement", "constraints", j), message)
    for j, text in enumerate(placement.preferences):
        message = preference_problem(text)
        if message is not None:
            yield Problem((*here, "deployment", "placement", "preferences", j), message)


SWARM_NAME = re.compile(r"[A-Za-z0-9](?:[-_]*[A-Za-z0-9]+)*")
"""What Swarm takes as the name of a service or network: a DNS name component, with
underscores allowed, of at most `SWARM_NAME_LENGTH` characters."""
SWARM_NAME_LENGTH = 63


def _swarm_name_problem(name: str, what: str) -> str | None:
    if not SWARM_NAME.fullmatch(name):
        return (f"{what} {name!r} is not a name Swarm takes: letters, digits, '-' and '_' "
                "only (no '.'), ending in a letter or digit")
    if len(name) > SWARM_NAME_LENGTH:
        return (f"{what} {name!r} is {len(name)} characters; Swarm takes at most "
                f"{SWARM_NAME_LENGTH}: shorten the job name or the agent id")
    return None


def _swarm_name_problems(job: JobDefinition) -> Iterator[Problem]:
    """The names agentsup gives a swarm job's overlay network and services (as
    `runners._swarm_engine` makes them) must be names Swarm takes, or the start fails
    half-way; the loader's own rule for ids and names is wider (dots, any length)."""
    swarm = [(i, a) for i, a in enumerate(job.agents) if a.deployment.target is Target.SWARM]
    if not swarm:
        return
    name = job.job.name
    problem = _swarm_name_problem(overlay_name(name), "overlay network name")
    if problem is not None:
        yield Problem(("job", "name"), problem)
        return  # every service name would repeat it
    for i, agent in swarm:
        problem = _swarm_name_problem(service_name(name, agent.id), "service name")
        if problem is not None:
            yield Problem(("agents", i, "id"), problem)


def _topology_problems(job: JobDefinition, graph: TopologyGraph) -> Iterator[Problem]:
    topology = job.topology
    kind = topology.type
    for name in REQUIRED_FIELDS[kind]:
        if getattr(topology, name) is None:
            yield Problem(("topology",), f"a {kind.value} topology needs {name!r}")
    for name in TOPOLOGY_FIELDS:
        if getattr(topology, name) is not None and name not in ALLOWED_FIELDS[kind]:
            users = [k.value for k, fields in ALLOWED_FIELDS.items() if name in fields]
            yield Problem(
                ("topology", name),
                f"{name!r} belongs to a {' or '.join(users)} topology, not {kind.value}",
                on_key=True,
            )
    if topology.levels:
        kinds = {isinstance(level, LevelGroup) for level in topology.levels}
        if len(kinds) > 1:
            yield Problem(
                ("topology", "levels"),
                "levels are either all lists of ids or all {parent, children} maps, not both",
            )

    ids = [agent.id for agent in job.agents]
    known = set(ids)
    for reference in graph.references:
        if reference.agent_id not in known:
            import difflib  # only a file with problems pays for the suggestions

            close = difflib.get_close_matches(reference.agent_id, ids, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; agents are: {', '.join(ids)}"
            yield Problem(reference.path, f"no agent has id {reference.agent_id!r}{hint}")
    mentioned = set(graph.members)
    for i, agent in enumerate(job.agents):
        if agent.id not in mentioned:
            yield Problem(
                ("agents", i, "id"),
                f"agent {agent.id!r} is not part of the {kind.value} topology; "
                "add it there or remove the agent",
            )
    for caller, callee in graph.edges:
        if caller == callee:
            yield Problem(
                graph.edge_paths.get((caller, callee)) or ("topology",),
                f"agent {caller!r} would connect to itself",
            )
    if graph.ordering:
        names = find_cycle([(a, b) for a, b in graph.edges if a != b])
        if names is None:
            return
        yield Problem(
            ("topology", CYCLE_FIELD.get(kind, "type")),
            f"the topology has a cycle: {' -> '.join(names)}; no start order satisfies it",
        )


def _network_problems(job: JobDefinition, graph: TopologyGraph) -> Iterator[Problem]:
    """Connected container agents must share a Docker network: a peer's URL names it by
    its id, an alias that only its own network resolves."""
    containers = {agent.id: (i, agent) for i, agent in enumerate(job.agents)
                  if agent.deployment.target is Target.CONTAINER}
    if len(containers) < 2:
        return  # without a pair of container agents, no edge to look at
    reported: set[frozenset[str]] = set()
    for caller, callee in graph.edges:
        if caller not in containers or callee not in containers or caller == callee:
            continue
        i, one = containers[caller]
        _, other = containers[callee]
        here, there = network_of(job.job.name, one), network_of(job.job.name, other)
        pair = frozenset((caller, callee))
        if here == there or pair in reported:
            continue
        reported.add(pair)
        path = graph.edge_paths.get((caller, callee)) or ("agents", i, "deployment")
        yield Problem(path, f"container agent {caller!r} connects to {callee!r}, but they are "
                      f"on different Docker networks ({here!r} and {there!r}), and a peer's "
                      "id resolves only on its own network; put both on one network")


def find_cycle(edges: list[tuple[str, str]]) -> list[str] | None:
    """The first cycle a depth-first walk meets, as a closed path, or None.

    `graphlib` walks from each node in the order the edges first name it and follows
    each node's edges in the order given, so the cycle it names is the one a reader
    meets first in the file. Its `CycleError` carries the path, first node repeated.
    """
    sorter: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter()
    for caller, callee in edges:
        sorter.add(caller)
        sorter.add(callee)
    for caller, callee in edges:
        sorter.add(callee, caller)
    try:
        sorter.prepare()
    except graphlib.CycleError as exc:
        return [str(name) for name in exc.args[1]]
    return None


def _port_problems(job: JobDefinition) -> Iterator[Problem]:
    taken: dict[tuple[str, int], tuple[int, Agent, str]] = {}
    for i, agent in enumerate(job.agents):
        deployment = agent.deployment
        if deployment.target is Target.LOCALHOST:
            key = ("localhost", agent.config.port)
            path_tail: tuple[str, ...] = ("config", "port")
        elif deployment.target is Target.REMOTE and deployment.host:
            key = (deployment.host, agent.config.port)
            path_tail = ("config", "port")
        elif deployment.target is Target.CONTAINER and deployment.host_port is not None:
            key = ("localhost", deployment.host_port)
            path_tail = ("deployment", "host_port")
        else:
            continue
        if key in taken:
            other_index, other, _ = taken[key]
            host = "this machine" if key[0] == "localhost" else f"host {key[0]!r}"
            yield Problem(
                ("agents", i, *path_tail),
                f"port {key[1]} on {host} is also used by agent {other.id!r} "
                f"(agents[{other_index}]); give each agent its own port",
            )
        else:
            taken[key] = (i, agent, "/".join(path_tail))


def _log_file_problems(job: JobDefinition) -> Iterator[Problem]:
    """`deployment.logs` without a `dir` anywhere would silently write nothing."""
    job_logs = job.deployment.logs
    for i, agent in enumerate(job.agents):
        own = agent.deployment.logs
        if (job_logs is None and own is None) or settings.log_files(job, agent) is not None:
            continue
        if own is not None and own.enabled is False:
            continue
        if job_logs is not None and job_logs.enabled is False and (own is None or
                                                                    own.enabled is None):
            continue
        path = ("agents", i, "deployment", "logs") if own is not None else (
            "deployment", "logs")
        yield Problem(path, "log files need 'dir' (here or in the job's deployment.logs)")


def _probe_layers(check: HealthCheck | None, path: DocPath) -> list[tuple[ProbeSettings, DocPath]]:
    """One health check's field sets with their paths: shared, readiness, liveness."""
    if check is None:
        return []
    layers: list[tuple[ProbeSettings, DocPath]] = [(check, path)]
    for purpose in ("readiness", "liveness"):
        layer = getattr(check, purpose)
        if layer is not None:
            layers.append((layer, (*path, purpose)))
    return layers


def _health_problems(job: JobDefinition, base_dir: Path) -> Iterator[Problem]:
    """Fields that are wrong wherever they stand, then kinds that lack their field once
    the job's and the agent's checks are merged (reported where the kind was chosen)."""
    job_path: DocPath = ("deployment", "health_check")
    layers = _probe_layers(job.deployment.health_check, job_path)
    for i, agent in enumerate(job.agents):
        layers.extend(_probe_layers(agent.health_check, ("agents", i, "health_check")))
    for layer, path in layers:
        if layer.pattern is not None:
            try:
                re.compile(layer.pattern)
            except re.error as exc:
                yield Problem((*path, "pattern"), f"not a regular expression: {exc}")
        if layer.ca_file is not None:
            ca_file = base_dir / Path(layer.ca_file).expanduser()
            if not ca_file.is_file():
                yield Problem((*path, "ca_file"), f"no such file: {ca_file}")
    reported: set[DocPath] = set()
    for i, agent in enumerate(job.agents):
        health = settings.health(job, agent)
        for purpose, probe in (("readiness", health.ready_probe()),
                               ("liveness", health.live_probe())):
            if not probe.enabled:
                continue
            if probe.type is ProbeType.EXEC and agent.deployment.target is Target.SWARM:
                # Swarm offers no way to run a command in a task's container; the
                # check could only ever fail, after the whole start-up timeout.
                where = _type_origin(job, agent, i, purpose)
                if where not in reported:
                    reported.add(where)
                    yield Problem(where, f"agent {agent.id!r} runs on swarm, where "
                                  "agentsup cannot run a command for an exec health "
                                  "check; use http, tcp or log")
                continue
            needs = {ProbeType.EXEC: "command", ProbeType.LOG: "pattern"}.get(probe.type)
            if needs is None or getattr(probe, needs):
                continue
            where = _type_origin(job, agent, i, purpose)
            if where in reported:
                continue
            reported.add(where)
            yield Problem(where, f"a health check of type {probe.type.value} needs {needs!r}")


def _type_origin(job: JobDefinition, agent: Agent, index: int, purpose: str) -> DocPath:
    """The `type` key that chose a probe's kind, most specific first."""
    candidates: list[tuple[HealthCheck | None, DocPath]] = [
        (agent.health_check, ("agents", index, "health_check")),
        (job.deployment.health_check, ("deployment", "health_check")),
    ]
    for check, path in candidates:
        if check is None:
            continue
        layer = getattr(check, purpose)
        if layer is not None and layer.type is not None:
            return (*path, purpose, "type")
        if check.type is not None:
            return (*path, "type")
    return ("agents", index, "health_check")


def _import_problems(job: JobDefinition, base_dir: Path) -> Iterator[Problem]:
    for i, agent in enumerate(job.agents):
        if agent.module is None or agent.deployment.target is not Target.LOCALHOST:
            continue
        search = imports.search_path(base_dir, agent.deployment.workdir)
        message = imports.check_module(agent.module, agent.type, search)
        if message is not None:
            field = "type" if message.startswith("module defines no") else "module"
            yield Problem(("agents", i, field), message)
