"""Who connects to whom, for every topology type, as plain data.

This is shared by the checks (which need to know where in the document each reference
was written) and by the resolver (which needs the edges and the naming order). It is a
pure function of the topology and the agent list: no I/O, no threads.
"""

from __future__ import annotations

import itertools

import msgspec

from agentsup.job.models import LevelGroup, Topology, TopologyType
from agentsup.job.problems import DocPath


class Reference(msgspec.Struct, frozen=True):
    """One mention of an agent id inside the topology, with where it was written."""

    agent_id: str
    path: DocPath


class TopologyGraph(msgspec.Struct):
    """The edges (caller -> callee) in the order the topology names them."""

    edges: list[tuple[str, str]] = msgspec.field(default_factory=list)
    references: list[Reference] = msgspec.field(default_factory=list)
    members: list[str] = msgspec.field(default_factory=list)
    """Agents the topology names, in the order it first names them."""
    ordering: bool = True
    """False where the edges say nothing about start order (mesh: all at once)."""
    edge_paths: dict[tuple[str, str], DocPath] = msgspec.field(default_factory=dict)
    """Where each edge was first written (the callee's mention), for messages; a mesh's
    edges, written nowhere in particular, have no entry."""

    def add_edge(self, caller: str, callee: str, path: DocPath = ()) -> None:
        if (caller, callee) not in self.edge_paths:  # a dict: O(1) for 200-agent meshes
            self.edges.append((caller, callee))
            self.edge_paths[(caller, callee)] = path

    def mention(self, agent_id: str, path: DocPath) -> None:
        self.references.append(Reference(agent_id, path))
        if agent_id not in self.members:
            self.members.append(agent_id)


def build_graph(topology: Topology, agent_ids: list[str]) -> TopologyGraph:
    """Derive the connection graph of a topology; unknown ids are kept for the checks."""
    graph = TopologyGraph()
    base: DocPath = ("topology",)
    match topology.type:
        case TopologyType.HUB_SPOKE:
            if topology.hub is not None:
                graph.mention(topology.hub, (*base, "hub"))
            for i, spoke in enumerate(topology.spokes or []):
                graph.mention(spoke, (*base, "spokes", i))
                if topology.hub is not None:
                    graph.add_edge(topology.hub, spoke, (*base, "spokes", i))
        case TopologyType.PIPELINE:
            stages = topology.stages or []
            for i, stage in enumerate(stages):
                for j, member in enumerate(stage):
                    graph.mention(member, (*base, "stages", i, j))
            for i, (current, following) in enumerate(itertools.pairwise(stages), start=1):
                for caller in current:
                    for j, callee in enumerate(following):
                        graph.add_edge(caller, callee, (*base, "stages", i, j))
        case TopologyType.DAG:
            for i, connection in enumerate(topology.connections or []):
                graph.mention(connection.from_, (*base, "connections", i, "from"))
                for j, target in enumerate(connection.to):
                    graph.mention(target, (*base, "connections", i, "to", j))
                    graph.add_edge(connection.from_, target, (*base, "connections", i, "to", j))
        case TopologyType.MESH:
            graph.ordering = False
            if topology.agents is None:
                members = list(agent_ids)
                for agent_id in members:
                    graph.mention(agent_id, ("agents",))
            else:
                members = list(topology.agents)
                for i, agent_id in enumerate(members):
                    graph.mention(agent_id, (*base, "agents", i))
            if len(set(members)) == len(members):
                # Every ordered pair once, made in bulk: a 200-agent mesh has 39,800,
                # and none has a place in the file to name (so no `edge_paths`).
                graph.edges = [(caller, callee) for caller in members for callee in members
                               if caller != callee]
            else:  # a repeated id (refused by the checks): each pair still once
                for caller in members:
                    for callee in members:
                        if caller != callee:
                            graph.add_edge(caller, callee)
        case TopologyType.HIERARCHICAL:
            _hierarchy(topology, graph)
        case TopologyType.DYNAMIC:
            graph.ordering = False
            for agent_id in agent_ids:
                graph.mention(agent_id, ("agents",))
    return graph


def _hierarchy(topology: Topology, graph: TopologyGraph) -> None:
    base: DocPath = ("topology",)
    if topology.root is not None:
        graph.mention(topology.root, (*base, "root"))
    levels = topology.levels or []
    previous: list[str] = [topology.root] if topology.root is not None else []
    for i, level in enumerate(levels):
        if isinstance(level, LevelGroup):
            graph.mention(level.parent, (*base, "levels", i, "parent"))
            for j, child in enumerate(level.children):
                graph.mention(child, (*base, "levels", i, "children", j))
                graph.add_edge(level.parent, child, (*base, "levels", i, "children", j))
            continue
        for j, member in enumerate(level):
            graph.mention(member, (*base, "levels", i, j))
        if i == 0 and topology.root is not None and level == [topology.root]:
            # The root written as level 0 is the same as the root on its own.
            continue
        for caller in previous:
            for j, callee in enumerate(level):
                if caller != callee:
                    graph.add_edge(caller, callee, (*base, "levels", i, j))
        previous = list(level)
