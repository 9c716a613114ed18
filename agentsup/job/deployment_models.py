"""The deployment part of the job-file schema: the job's `deployment:` and each agent's.

Plain schema: an agent's field left unset inherits the job's, and that merging is done
in `agentsup.settings`, not here.
"""

# Annotations here are evaluated as written (no `from __future__ import annotations`):
# postponed, pydantic would compile and evaluate each one while building the models.

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, Strict, WithJsonSchema

from agentsup.job.fields import (
    ByteSize,
    Count,
    EnvFiles,
    EnvName,
    EnvValue,
    Flag,
    KeptFiles,
    Model,
    Port,
    Seconds,
    SecretText,
    StopSignal,
)
from agentsup.job.health_models import HealthCheck
from agentsup.job.kinds import Strategy, Target
from agentsup.job.values import (
    MEMORY_SCHEMA_PATTERN,
    OutputLevel,
    empty_dict,
    empty_list,
    memory_size,
    memory_text,
    restart_policy,
)


class OutputLevels(Model):
    """The event level of each stream of an agent's output; unset fields inherit."""

    stdout: OutputLevel | None = Field(default=None, description="Level of stdout lines (info).")
    stderr: OutputLevel | None = Field(
        default=None,
        description="Level of stderr lines (warning, so that `--log-level warning` still "
        "shows tracebacks).",
    )


class LogFiles(Model):
    """Where agents' output is also written, with size-based rotation."""

    dir: str | None = Field(
        default=None,
        description="Directory; each agent writes DIR/<job>/<agent>.log. Relative to the "
        "job file.",
    )
    max_size: ByteSize | None = Field(
        default=None, description="Size at which a log file is rotated (10M)."
    )
    keep: KeptFiles | None = Field(
        default=None, description="Rotated files kept, 0 to 1000 (5)."
    )
    enabled: bool | None = Field(
        default=None, description="false turns the job's log files off for one agent."
    )


class Resources(Model):
    cpu: Annotated[float, Strict()] | None = Field(
        default=None, gt=0, allow_inf_nan=False, description="CPU cores (e.g. 0.5, 2)."
    )
    memory: Annotated[
        str,
        BeforeValidator(memory_text),
        AfterValidator(memory_size),
        WithJsonSchema(
            {"anyOf": [{"type": "string", "pattern": MEMORY_SCHEMA_PATTERN}, {"type": "integer"}]}
        ),
    ] | None = Field(
        default=None, description="Memory like 512M, 1G or 2Gi."
    )
    gpu: Count | None = Field(default=None, description="Number of GPUs.")


class Placement(Model):
    """Swarm's placement, in Swarm's own syntax (checked by the loader)."""

    constraints: list[str] = Field(
        default_factory=empty_list,
        description="Like `node.role==worker` or `node.labels.gpu==true` (== or !=).",
    )
    preferences: list[str] = Field(
        default_factory=empty_list, description="Like `spread=node.labels.zone`."
    )


class SwarmSettings(Model):
    engine: str | None = Field(
        default=None,
        description="A swarm manager's Engine API (unix://, tcp:// or ssh://); default: "
        "DOCKER_HOST, else the local socket.",
    )


class AgentDeployment(Model):
    target: Target = Target.LOCALHOST
    # remote
    host: str | None = Field(default=None, description="SSH host or ~/.ssh/config alias.")
    user: str | None = None
    port: Port | None = Field(default=None, description="SSH port (22).")
    ssh_key: str | None = None
    password: SecretText | None = Field(default=None, description="SSH password; never shown.")
    python: str | None = Field(
        default=None,
        description="Interpreter for module agents: locally the current one, remotely python3.",
    )
    workdir: str | None = Field(
        default=None, description="Working directory; locally relative to the job file."
    )
    # container
    image: str | None = None
    network: str | None = None
    container_name: str | None = None
    host_port: Port | None = Field(
        default=None, description="Port published on the Docker host (default: config.port)."
    )
    pull: Flag | None = Field(
        default=None, description="Pull the image when it is missing (job default: false)."
    )
    # swarm
    placement: Placement | None = Field(
        default=None, description="Where Swarm may schedule the agent's task (swarm only)."
    )
    # kubernetes (accepted, not supported yet)
    namespace: str | None = None
    service_type: str | None = None
    # every target
    env_file: EnvFiles | None = Field(
        default=None,
        description="Env files (one or a list), relative to the job file; read after the "
        "job's environment, before this agent's.",
    )
    environment: dict[EnvName, EnvValue] = Field(
        default_factory=empty_dict, json_schema_extra={"additionalProperties": False}
    )
    stop_timeout: Seconds | None = Field(
        default=None, description="Seconds between SIGTERM and SIGKILL (job default: 10)."
    )
    stop_signal: StopSignal | None = Field(
        default=None, description="The signal that asks the agent to stop (job default: "
        "SIGTERM)."
    )
    inherit_environment: bool | None = Field(
        default=None,
        description="Local agents start with agentsup's own environment (job default: "
        "true); false gives them only the job file's variables.",
    )
    output: OutputLevels | None = Field(
        default=None, description="Overrides fields of the job's `deployment.output`."
    )
    logs: LogFiles | None = Field(
        default=None, description="Overrides fields of the job's `deployment.logs`."
    )
    timeout: Seconds | None = Field(
        default=None,
        description="Seconds this agent has to become ready (job default: deployment.timeout).",
    )


class BackoffSettings(Model):
    initial: Seconds | None = Field(default=None, description="First delay (0.5 s).")
    factor: Annotated[float, Strict()] | None = Field(
        default=None, ge=1.0, le=100.0, allow_inf_nan=False,
        description="Growth per restart, 1 to 100 (2).",
    )
    max: Seconds | None = Field(default=None, description="Longest delay (30 s).")


class RestartSettings(Model):
    """Restart policy; unset fields inherit from the job's, then the defaults."""

    policy: Annotated[
        Literal["no", "on-failure", "always"],
        # YAML 1.1 reads a bare `no` as false, which is taken as "no".
        BeforeValidator(restart_policy),
        WithJsonSchema({"enum": ["no", "on-failure", "always", False]}),
    ] | None = Field(
        default=None, description="When an exit calls for a restart (on-failure)."
    )
    max_restarts: Count | None = Field(
        default=None, description="Restarts allowed within `window` (5)."
    )
    window: Seconds | None = Field(default=None, description="Seconds the budget covers (60).")
    backoff: BackoffSettings | None = None
    restart_dependents: Flag | None = Field(
        default=None,
        description="Once this agent is ready again, restart the agents that connect to it.",
    )


class SshSettings(Model):
    key_file: str | None = None
    timeout: Seconds = Field(default=10.0, description="Seconds to connect.")
    known_hosts: str = Field(
        default="~/.ssh/known_hosts",
        description="Host keys to verify against, or 'ignore' to skip verification "
        "(each use logs a warning event).",
    )


class NetworkSettings(Model):
    allow_cross_host: Flag = Field(default=True, description="Kept, not acted on yet.")
    firewall_rules: list[Any] = Field(default_factory=empty_list, description="Kept, not acted on.")
    advertise_host: str | None = Field(
        default=None,
        description="How remote agents reach agents on this machine (its host name or "
        "address); default: this machine's host name.",
    )


class JobDeployment(Model):
    strategy: Strategy = Strategy.STAGED
    timeout: Seconds = Field(default=60.0, description="Seconds for an agent to become ready.")
    stop_timeout: Seconds = Field(default=10.0, description="Seconds from SIGTERM to SIGKILL.")
    shutdown_timeout: Seconds | None = Field(
        default=None,
        description="Seconds the whole ordered stop may take; then every agent left is "
        "killed at once. Unset: no job-wide limit (stage stop timeouts add up).",
    )
    stop_signal: StopSignal = Field(
        default="SIGTERM", description="The signal that asks agents to stop."
    )
    inherit_environment: bool = Field(
        default=True,
        description="Local agents start with agentsup's own environment; false gives them "
        "only the job file's variables.",
    )
    output: OutputLevels = Field(
        default_factory=OutputLevels,
        description="Event level of agents' stdout and stderr lines.",
    )
    logs: LogFiles | None = Field(
        default=None, description="Also write each agent's output to rotated log files."
    )
    health_check: HealthCheck = Field(default_factory=HealthCheck)
    ssh: SshSettings = Field(default_factory=SshSettings)
    network: NetworkSettings = Field(default_factory=NetworkSettings)
    swarm: SwarmSettings = Field(default_factory=SwarmSettings)
    pull: Flag = Field(default=False, description="Pull missing container images.")
    restart: RestartSettings = Field(default_factory=RestartSettings)
    on_agent_failure: Literal["shutdown", "continue"] = Field(
        default="shutdown",
        description="When an agent has failed: stop the job (exit 1), or report and go on.",
    )

