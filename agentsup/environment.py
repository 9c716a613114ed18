"""The environment contract: what every agent process is told, on every target."""

from __future__ import annotations

import json
import re

from agentsup.job.models import Agent, JobDefinition, scalar_text
from agentsup.plan import DeploymentPlan


def config_variable(key: str) -> str:
    """`model-name` -> `AGENT_MODEL_NAME`: upper-cased, other characters become '_'."""
    return "AGENT_" + re.sub(r"[^A-Za-z0-9_]", "_", key).upper()


def agent_environment(job: JobDefinition, plan: DeploymentPlan, agent: Agent) -> dict[str, str]:
    """Contract variables, then the job's environment, then the agent's (which wins)."""
    env: dict[str, str] = {"PYTHONUNBUFFERED": "1"}
    for key, scalar in agent.config.scalars().items():
        env[config_variable(key)] = scalar_text(scalar)
    env.update(
        {
            "AGENT_ID": agent.id,
            "AGENT_PORT": str(agent.config.port),
            "CONNECTED_AGENTS": ",".join(plan.connections[agent.id]),
            "AGENTSUP_CONNECTIONS": json.dumps(plan.connection_map(agent.id)),
            "AGENTSUP_JOB": job.job.name,
            "JOB_ID": job.job.name,
        }
    )
    for key, value in job.environment.items():
        env[key] = scalar_text(value)
    for key, value in agent.deployment.environment.items():
        env[key] = scalar_text(value)
    return env
