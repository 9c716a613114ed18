"""Effective settings: what is in force for one agent once the job and the agent are merged.

This is the one place where the layers of the job file meet. The models in
`agentsup.job` are plain schema (every layer's fields optional); here each setting is
merged in the same order: the defaults, then the job's `deployment:`, then the agent's
own `deployment:` (or its `health_check:` / `restart:`). Pure: no I/O, no threads.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from agentsup.job.models import (
    DEFAULT_HEALTH,
    DEFAULT_OUTPUT,
    Agent,
    EffectiveHealth,
    EffectiveLogFiles,
    EffectiveProbe,
    JobDefinition,
    RestartSettings,
)

if TYPE_CHECKING:
    # The restart machinery is the supervisor's; `validate` reads the health and log
    # settings from here without it.
    from agentsup.restart import FailureAction, RestartPolicy

DEFAULT_LOG_FILES: dict[str, Any] = {"max_size": 10 * 1024**2, "keep": 5, "enabled": True}


def given(layer: Any, *leave_out: str) -> dict[str, Any]:
    """The fields a layer of the job file sets (those not None), but `leave_out`."""
    return {
        name: getattr(layer, name)
        for name in layer.__struct_fields__
        if name not in leave_out and getattr(layer, name) is not None
    }


def health(job: JobDefinition, agent: Agent, base_dir: Path | None = None) -> EffectiveHealth:
    """Merge the agent's health check over the job's over the defaults.

    The shared fields merge first; `readiness` and `liveness` then each lay their
    own fields (the job's, then the agent's) over that result. With `base_dir`, a
    relative `ca_file` is made relative to the job file's directory.
    """
    checks = [DEFAULT_HEALTH, job.deployment.health_check]
    if agent.health_check is not None:
        checks.append(agent.health_check)
    shared: dict[str, Any] = {}
    for check in checks:
        shared.update(given(check, "readiness", "liveness"))

    def purpose(name: str) -> EffectiveProbe:
        merged = dict(shared)
        for check in checks:
            layer = getattr(check, name)
            if layer is not None:
                merged.update(given(layer))
        if base_dir is not None and merged.get("ca_file"):
            merged["ca_file"] = str(base_dir / Path(merged["ca_file"]).expanduser())
        return EffectiveProbe(**merged)

    if base_dir is not None and shared.get("ca_file"):
        shared["ca_file"] = str(base_dir / Path(shared["ca_file"]).expanduser())

    return EffectiveHealth(**shared, readiness=purpose("readiness"), liveness=purpose("liveness"))


def start_timeout(job: JobDefinition, agent: Agent) -> float:
    """Seconds the agent has to become ready: its own `timeout`, else the job's."""
    return agent.deployment.timeout or job.deployment.timeout


def stop_timeout(job: JobDefinition, agent: Agent) -> float:
    return agent.deployment.stop_timeout or job.deployment.stop_timeout


def stop_signal(job: JobDefinition, agent: Agent) -> str:
    return agent.deployment.stop_signal or job.deployment.stop_signal


def inherits_environment(job: JobDefinition, agent: Agent) -> bool:
    inherit = agent.deployment.inherit_environment
    return job.deployment.inherit_environment if inherit is None else inherit


def output_levels(job: JobDefinition, agent: Agent) -> dict[str, str]:
    """`{stream: level}` for one agent: its own, then the job's, then the defaults."""
    levels = dict(DEFAULT_OUTPUT)
    for layer in (job.deployment.output, agent.deployment.output):
        if layer is not None:
            levels.update(given(layer))
    return levels


def log_files(job: JobDefinition, agent: Agent) -> EffectiveLogFiles | None:
    """The log-file settings of one agent, or None when it writes none."""
    merged = dict(DEFAULT_LOG_FILES)
    for layer in (job.deployment.logs, agent.deployment.logs):
        if layer is not None:
            merged.update(given(layer))
    if not merged["enabled"] or merged.get("dir") is None:
        return None
    return EffectiveLogFiles(dir=merged["dir"], max_size=merged["max_size"], keep=merged["keep"])


class ProcessSettings(msgspec.Struct, frozen=True):
    """How a runner treats one agent's process: what a backend's `launch_spec` needs."""

    stop_timeout: float
    stop_signal: str
    inherit_environment: bool


def process_settings(job: JobDefinition, agent: Agent) -> ProcessSettings:
    return ProcessSettings(
        stop_timeout=stop_timeout(job, agent),
        stop_signal=stop_signal(job, agent),
        inherit_environment=inherits_environment(job, agent),
    )


def _layer(settings: RestartSettings | None) -> dict[str, Any]:
    if settings is None:
        return {}
    values = given(settings, "backoff")
    if settings.backoff is not None:
        values.update(
            {f"backoff_{k}": v for k, v in given(settings.backoff).items()}
        )
    return values


def restart_policy(job: JobDefinition, agent: Agent) -> RestartPolicy:
    from agentsup.restart import Backoff, RestartMode, RestartPolicy

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
    from agentsup.restart import FailureAction

    return FailureAction(job.deployment.on_agent_failure)
