"""Effective settings: what is in force for one agent once the job and the agent are merged.

Each field of an agent's `restart:` overrides the same field of the job's
`deployment.restart:`, which overrides the defaults.
"""

from __future__ import annotations

from typing import Any

from agentsup.job.models import Agent, JobDefinition, RestartSettings
from agentsup.restart import Backoff, FailureAction, RestartMode, RestartPolicy


def _layer(settings: RestartSettings | None) -> dict[str, Any]:
    if settings is None:
        return {}
    values = settings.model_dump(exclude_none=True, exclude={"backoff"})
    if settings.backoff is not None:
        values.update(
            {f"backoff_{k}": v for k, v in settings.backoff.model_dump(exclude_none=True).items()}
        )
    return values


def restart_policy(job: JobDefinition, agent: Agent) -> RestartPolicy:
    merged = {**_layer(job.deployment.restart), **_layer(agent.restart)}
    default = RestartPolicy()
    return RestartPolicy(
        mode=RestartMode(merged.get("policy", default.mode.value)),
        max_restarts=merged.get("max_restarts", default.max_restarts),
        window=merged.get("window", default.window),
        backoff=Backoff(
            initial=merged.get("backoff_initial", default.backoff.initial),
            factor=merged.get("backoff_factor", default.backoff.factor),
            max=merged.get("backoff_max", default.backoff.max),
        ),
        restart_dependents=merged.get("restart_dependents", default.restart_dependents),
    )


def restart_policies(job: JobDefinition) -> dict[str, RestartPolicy]:
    return {agent.id: restart_policy(job, agent) for agent in job.agents}


def failure_action(job: JobDefinition) -> FailureAction:
    return FailureAction(job.deployment.on_agent_failure)
