"""The names agentsup gives a job's Docker networks and Swarm services.

They live apart from the engines (`runners._docker_engine`, `runners._swarm_engine`),
which import the Docker SDK, because the loader checks them too: a name Swarm would
refuse, or two container agents that could not resolve each other, must be a
`validate` error, and the loader must not pay for the SDK.
"""

from __future__ import annotations

from agentsup.job.models import Agent


def default_network(job: str) -> str:
    """The network a job's container agents share unless an agent names its own."""
    return f"agentsup-{job}"


def network_of(job: str, agent: Agent) -> str:
    return agent.deployment.network or default_network(job)


def service_name(job: str, agent_id: str) -> str:
    return f"agentsup-{job}-{agent_id}"


def overlay_name(job: str) -> str:
    return f"agentsup-{job}-swarm"
