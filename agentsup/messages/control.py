"""Requests that arrive over the control socket, as messages to the job supervisor.

Each carries `reply`, a callback the supervisor calls once with an HTTP status and a
JSON body. The control server's thread waits for that answer; the supervisor never
waits for anything, so a request can never block the job.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import msgspec

from agentsup.launches import LaunchText

Reply = Callable[[int, dict[str, Any]], None]


class ReportStatus(msgspec.Struct, frozen=True):
    """Answer with every agent's state, pid, host, URL, run, restarts and uptime."""

    reply: Reply


class RestartAgents(msgspec.Struct, frozen=True):
    """Restart these agents now, without spending their restart budget.

    Answered once each is ready again or has failed. A stopped agent is started.
    """

    agents: tuple[str, ...]
    reply: Reply


class StopAgents(msgspec.Struct, frozen=True):
    """Stop these agents and keep them stopped; no agents means stop the whole job.

    Answered once they are stopped (at once, for the whole job).
    """

    agents: tuple[str, ...]
    reply: Reply


class ReloadJob(msgspec.Struct, frozen=True):
    """Apply a new plan: stop removed agents, relaunch changed ones, start new ones.

    `launches` describes each agent's launch (command, environment, config, image,
    host, URLs) as text; an agent whose text differs from the running one's is
    relaunched. `policies` are the new restart policies, by agent.
    """

    plan: Any  # DeploymentPlan; Any here keeps messages free of the planner's imports
    launches: Mapping[str, LaunchText]
    policies: Mapping[str, Any]
    make: Callable[[str, int], Any]
    """Makes the actor of an added or changed agent, by id and how many times the agent
    was launched before (its run numbers go on from there)."""
    reply: Reply
