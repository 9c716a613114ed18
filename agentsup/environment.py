"""The environment contract: what every agent process is told, on every target.

The order, later winning: the contract variables (AGENT_*, CONNECTED_AGENTS, ...), the
job's `env_file`, the job's `environment`, the agent's `env_file`, the agent's
`environment`. Whether agentsup's own environment sits underneath is the runner's
business (`inherit_environment`), not this module's.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

from agentsup.job.envfiles import agent_env_files
from agentsup.job.models import Agent, JobDefinition, scalar_text
from agentsup.plan import DeploymentPlan


def config_variable(key: str) -> str:
    """`model-name` -> `AGENT_MODEL_NAME`: upper-cased, other characters become '_'."""
    return "AGENT_" + re.sub(r"[^A-Za-z0-9_]", "_", key).upper()


def config_text(value: object) -> str | None:
    """How a `config` value becomes text: scalars as in `environment`, lists and maps as
    compact JSON; None (an empty value) sets nothing."""
    if value is None:
        return None
    if isinstance(value, str | int | float | bool):
        return scalar_text(value)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def same_url(url: str) -> str:
    """Each peer URL as the plan has it (every target but a swarm reached from outside)."""
    return url


def agent_environment(
    job: JobDefinition, plan: DeploymentPlan, agent: Agent, base_dir: Path,
    *, urls: Callable[[str], str] = same_url,
) -> dict[str, str]:
    """The variables an agent is given; env files are read from `base_dir` (the job
    file's directory) now. `urls` maps each peer URL of the plan to the one to give
    (`liveurls.live` binds swarm agents' addresses at launch time)."""
    connections = plan.connections[agent.id]
    if urls is not same_url:  # a call per URL only where one may change (a 200-agent
        connections = tuple(urls(url) for url in connections)  # mesh has 39,800)
    env: dict[str, str] = {"PYTHONUNBUFFERED": "1"}
    for key, value in agent.config.extra.items():
        text = config_text(value)
        if text is not None:
            env[config_variable(key)] = text
    env.update(
        {
            "AGENT_ID": agent.id,
            "AGENT_PORT": str(agent.config.port),
            "CONNECTED_AGENTS": ",".join(connections),
            "AGENTSUP_CONNECTIONS": json.dumps(
                dict(zip(plan.peers[agent.id], connections, strict=True))
            ),
            "AGENTSUP_JOB": job.job.name,
            "JOB_ID": job.job.name,
        }
    )
    job_files, agent_files = agent_env_files(job, agent, base_dir)
    env.update(job_files)
    for key, value in job.environment.items():
        env[key] = scalar_text(value)
    env.update(agent_files)
    for key, value in agent.deployment.environment.items():
        env[key] = scalar_text(value)
    return env
