"""Showing a deployment plan to people: a text table, Mermaid and Graphviz dot."""

from __future__ import annotations

import json
import re

from agentsup.plan import EVERY_ADDRESS, DeploymentPlan
from agentsup.words import plural


def as_json(plan: DeploymentPlan) -> str:
    return json.dumps(plan.to_json(), indent=2)


def as_text(plan: DeploymentPlan) -> str:
    lines = [f"job {plan.job}: {plural(len(plan.agent_urls), 'agent')} in "
        f"{plural(len(plan.stages), 'stage')} "
             f"(strategy {plan.strategy.value})", ""]
    rows = [("stage", "agent", "url", "connects to")]
    for number, stage in enumerate(plan.stages, start=1):
        for agent_id in stage:
            peers = ", ".join(plan.connections[agent_id]) or "-"
            rows.append((str(number), agent_id, plan.agent_urls[agent_id], peers))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        cells = [row[i].ljust(widths[i]) for i in range(3)]
        lines.append("  ".join([*cells, row[3]]).rstrip())
    open_wide = [agent_id for agent_id, address in plan.published.items()
                 if address == EVERY_ADDRESS]
    if open_wide:
        lines += ["", f"published on {EVERY_ADDRESS} of the Docker host, "
                  f"for agents on other machines: {', '.join(open_wide)}"]
    return "\n".join(lines)


def _node_id(agent_id: str) -> str:
    """Mermaid and dot identifiers: agent ids may hold '-' and '.', which both dislike."""
    return "a_" + re.sub(r"[^A-Za-z0-9_]", "_", agent_id)


def as_mermaid(plan: DeploymentPlan) -> str:
    lines = ["flowchart TB"]
    for number, stage in enumerate(plan.stages, start=1):
        lines.append(f'  subgraph stage{number}["stage {number}"]')
        for agent_id in stage:
            lines.append(f'    {_node_id(agent_id)}["{agent_id}<br/>{plan.agent_urls[agent_id]}"]')
        lines.append("  end")
    for caller, callees in plan.peers.items():
        for callee in callees:
            lines.append(f"  {_node_id(caller)} --> {_node_id(callee)}")
    return "\n".join(lines)


def as_dot(plan: DeploymentPlan) -> str:
    lines = [f"digraph {json.dumps(plan.job)} {{", "  rankdir=TB;", "  node [shape=box];"]
    for number, stage in enumerate(plan.stages, start=1):
        lines.append(f"  subgraph cluster_stage{number} {{")
        lines.append(f'    label="stage {number}";')
        for agent_id in stage:
            label = json.dumps(f"{agent_id}\n{plan.agent_urls[agent_id]}")
            lines.append(f"    {_node_id(agent_id)} [label={label}];")
        lines.append("  }")
    for caller, callees in plan.peers.items():
        for callee in callees:
            lines.append(f"  {_node_id(caller)} -> {_node_id(callee)};")
    lines.append("}")
    return "\n".join(lines)


RENDERERS = {"text": as_text, "json": as_json, "mermaid": as_mermaid, "dot": as_dot}
