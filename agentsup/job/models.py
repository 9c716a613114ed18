"""The job-file schema.

Every model forbids unknown keys so that a typo is an error with a suggestion instead of a
setting that silently does nothing. The free-form maps (`config`, `environment`,
`execution`) are the deliberate exceptions. Cross-field checks that need the whole job
(references, cycles, port clashes) live in `checks`, not here, so that all of them can be
reported at once with positions.
"""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    SecretStr,
    Tag,
    WithJsonSchema,
    field_validator,
)

Scalar = str | int | float | bool
Seconds = Annotated[float, Field(gt=0, description="A duration in seconds; may be fractional.")]


class Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        populate_by_name=True,
        # The loader accepts `x-` keys everywhere; say so in the JSON Schema too, so that
        # editors do not flag them.
        json_schema_extra={"patternProperties": {"^x-": {}}},
    )


def _as_list(value: Any) -> Any:
    """Accept a single id where a list of ids is expected (`to: b` means `to: [b]`)."""
    if isinstance(value, str):
        return [value]
    return value


ID_OR_IDS_SCHEMA = {
    "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}],
}
IdList = Annotated[list[str], BeforeValidator(_as_list), WithJsonSchema(ID_OR_IDS_SCHEMA)]
"""A list of agent ids; one id alone is accepted too (and the JSON Schema says so)."""


def _port_number(value: Any) -> Any:
    """A TCP port: an integer (or its digits) from 1 to 65535; never a boolean."""
    if isinstance(value, bool) or not isinstance(value, int | str | float):
        raise ValueError(f"must be a port number from 1 to 65535, not {value!r}")
    text = str(value).strip()
    if isinstance(value, float) and value.is_integer():
        text = str(int(value))
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise ValueError(f"must be a port number from 1 to 65535, not {value!r}")
    return int(text)


Port = Annotated[int, Field(ge=1, le=65535), BeforeValidator(_port_number)]
"""A TCP port. Checked before pydantic's own int coercion so `true` is not port 1."""


def _env_value(value: Any) -> Any:
    if isinstance(value, dict | list | tuple | set):
        kind = "a mapping" if isinstance(value, dict) else "a list"
        raise ValueError(f"must be text, a number or a boolean, not {kind}")
    return value


EnvValue = Annotated[Scalar | None, BeforeValidator(_env_value)]
"""An environment value; numbers and booleans become text when an agent starts."""


class JobInfo(Model):
    name: str = Field(min_length=1, description="The job's name; used in events and names.")
    version: Annotated[str, WithJsonSchema({"type": ["string", "number"]})] | None = Field(
        default=None, description="Free text; kept, not acted on."
    )
    description: str | None = None
    tags: list[str] = Field(default_factory=list)

    @field_validator("version", mode="before")
    @classmethod
    def _version_as_text(cls, value: Any) -> Any:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        return value

    @field_validator("name")
    @classmethod
    def _safe_name(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", value):
            raise ValueError(
                "must start with a letter or digit and contain only letters, digits, "
                "'_', '.' and '-' (it names networks, containers and directories)"
            )
        return value


class AgentConfig(BaseModel):
    """Free-form agent settings; only `port` is required."""

    model_config = ConfigDict(extra="allow", frozen=True)

    port: Port = Field(description="The TCP port the agent serves HTTP on.")

    def scalars(self) -> dict[str, Scalar]:
        """The settings that become AGENT_<KEY> variables (nested values are skipped)."""
        extra = self.model_extra or {}
        return {
            key: value
            for key, value in extra.items()
            if isinstance(value, str | int | float | bool)
        }


MEMORY_PATTERN = re.compile(r"^\d+(\.\d+)?\s*([KMGT]i?[Bb]?|[Bb])?$")


class Resources(Model):
    cpu: float | None = Field(default=None, gt=0, description="CPU cores (e.g. 0.5, 2).")
    memory: Annotated[str, WithJsonSchema({"type": ["string", "integer"]})] | None = Field(
        default=None, description="Memory like 512M, 1G or 2Gi."
    )
    gpu: int | None = Field(default=None, ge=0, description="Number of GPUs.")

    @field_validator("memory", mode="before")
    @classmethod
    def _memory_text(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        return value

    @field_validator("memory")
    @classmethod
    def _memory_format(cls, value: str | None) -> str | None:
        if value is not None and not MEMORY_PATTERN.match(value.strip()):
            raise ValueError(f"{value!r} is not a size; write it like 512M, 1G or 2Gi")
        return value


class ProbeType(StrEnum):
    HTTP = "http"
    TCP = "tcp"
    EXEC = "exec"
    LOG = "log"
    A2A = "a2a"


COMMAND_SCHEMA = {
    "anyOf": [
        {"type": "string", "minLength": 1},
        {"type": "array", "items": {"type": ["string", "number"]}, "minItems": 1},
    ]
}


def _split_command_line(value: Any) -> Any:
    """A command as a string (split like a shell) or an argv list (numbers become text)."""
    import shlex

    if isinstance(value, str):
        try:
            parts = shlex.split(value)
        except ValueError as exc:
            raise ValueError(f"cannot split command line: {exc}") from None
        if not parts:
            raise ValueError("must not be empty")
        return parts
    if isinstance(value, list):
        # `[python3, -m, http.server, 8101]`: YAML numbers in an argv are meant as text.
        return [
            str(part) if isinstance(part, int | float) and not isinstance(part, bool) else part
            for part in value
        ]
    return value


class ProbeSettings(Model):
    """The fields of one probe; unset fields inherit (see `HealthCheck`)."""

    enabled: bool | None = None
    type: ProbeType | None = Field(
        default=None, description="http (default), tcp, exec, log or a2a."
    )
    interval: Seconds | None = Field(default=None, description="Seconds between checks.")
    retries: int | None = Field(
        default=None, ge=1, description="Failures in a row before an agent is unhealthy."
    )
    timeout: Seconds | None = Field(default=None, description="Seconds one check may take.")
    path: str | None = Field(default=None, description="HTTP path to GET (default /health).")
    scheme: Literal["http", "https"] | None = Field(
        default=None, description="http (default) or https (certificate not verified "
        "unless ca_file is given)."
    )
    ca_file: str | None = Field(
        default=None, description="CA certificate (PEM) that an https agent's certificate "
        "must verify against; relative to the job file."
    )
    command: Annotated[list[str], WithJsonSchema(COMMAND_SCHEMA)] | None = Field(
        default=None, description="type exec: the command (string or argv list) that must "
        "exit 0, run where the agent runs."
    )
    pattern: str | None = Field(
        default=None, description="type log: a regular expression; the agent is ready when "
        "a line of its output matches."
    )

    @field_validator("path")
    @classmethod
    def _path_absolute(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("/"):
            raise ValueError(f"must start with '/', like '/{value}'")
        return value

    @field_validator("command", mode="before")
    @classmethod
    def _split_command(cls, value: Any) -> Any:
        return _split_command_line(value)

    @field_validator("command")
    @classmethod
    def _non_empty(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and not value:
            raise ValueError("must not be empty")
        return value


class HealthCheck(ProbeSettings):
    """Health-check settings; unset fields inherit from the job, then the defaults.

    `readiness` and `liveness` take the same fields and override the shared ones for
    that purpose alone (a `/ready` while a model loads, a cheap `/live` afterwards).
    """

    readiness: ProbeSettings | None = Field(
        default=None, description="Overrides for the check that decides when the agent is ready."
    )
    liveness: ProbeSettings | None = Field(
        default=None, description="Overrides for the checks once the agent is ready; "
        "{enabled: false} turns only these off."
    )


class Target(StrEnum):
    LOCALHOST = "localhost"
    REMOTE = "remote"
    CONTAINER = "container"
    KUBERNETES = "kubernetes"


class AgentDeployment(Model):
    target: Target = Target.LOCALHOST
    # remote
    host: str | None = Field(default=None, description="SSH host or ~/.ssh/config alias.")
    user: str | None = None
    port: Port | None = Field(default=None, description="SSH port (22).")
    ssh_key: str | None = None
    password: SecretStr | None = Field(default=None, description="SSH password; never shown.")
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
    pull: bool | None = Field(
        default=None, description="Pull the image when it is missing (job default: false)."
    )
    # kubernetes (accepted, not supported yet)
    namespace: str | None = None
    service_type: str | None = None
    # every target
    environment: dict[str, EnvValue] = Field(default_factory=dict)
    stop_timeout: Seconds | None = Field(
        default=None, description="Seconds between SIGTERM and SIGKILL (job default: 10)."
    )
    timeout: Seconds | None = Field(
        default=None,
        description="Seconds this agent has to become ready (job default: deployment.timeout).",
    )


class BackoffSettings(Model):
    initial: Seconds | None = Field(default=None, description="First delay (0.5 s).")
    factor: float | None = Field(default=None, ge=1.0, description="Growth per restart (2).")
    max: Seconds | None = Field(default=None, description="Longest delay (30 s).")


class RestartSettings(Model):
    """Restart policy; unset fields inherit from the job's, then the defaults."""

    policy: Literal["no", "on-failure", "always"] | None = Field(
        default=None, description="When an exit calls for a restart (on-failure)."
    )
    max_restarts: int | None = Field(
        default=None, ge=0, description="Restarts allowed within `window` (5)."
    )
    window: Seconds | None = Field(default=None, description="Seconds the budget covers (60).")
    backoff: BackoffSettings | None = None
    restart_dependents: bool | None = Field(
        default=None,
        description="Once this agent is ready again, restart the agents that connect to it.",
    )

    @field_validator("policy", mode="before")
    @classmethod
    def _yaml_no(cls, value: Any) -> Any:
        # YAML 1.1 reads a bare `no` as false; people mean the policy.
        return "no" if value is False else value


class Agent(Model):
    id: str = Field(min_length=1)
    type: str | None = Field(default=None, description="Class the module defines.")
    module: str | None = Field(default=None, description="Run as `python -m module`.")
    command: Annotated[list[str], WithJsonSchema(COMMAND_SCHEMA)] | None = Field(
        default=None, description="A command line (string, split like a shell) or argv list."
    )
    config: AgentConfig
    resources: Resources | None = None
    health_check: HealthCheck | None = None
    deployment: AgentDeployment = Field(default_factory=AgentDeployment)
    restart: RestartSettings | None = Field(
        default=None, description="Overrides fields of the job's `deployment.restart`."
    )

    @field_validator("id")
    @classmethod
    def _safe_id(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", value):
            raise ValueError(
                "must start with a letter or digit and contain only letters, digits, "
                "'_', '.' and '-' (ids become host names and variable values)"
            )
        return value

    @field_validator("command", mode="before")
    @classmethod
    def _split_command(cls, value: Any) -> Any:
        return _split_command_line(value)

    @field_validator("command")
    @classmethod
    def _non_empty(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and not value:
            raise ValueError("must not be empty")
        return value


class Connection(Model):
    from_: str = Field(alias="from")
    to: IdList
    type: str | None = Field(default=None, description="Free text; kept, not acted on.")


class LevelGroup(Model):
    """One `{parent, children}` entry of a hierarchical topology."""

    parent: str
    children: IdList


class TopologyType(StrEnum):
    HUB_SPOKE = "hub-spoke"
    PIPELINE = "pipeline"
    DAG = "dag"
    MESH = "mesh"
    HIERARCHICAL = "hierarchical"
    DYNAMIC = "dynamic"


def _level_kind(value: Any) -> str:
    return "group" if isinstance(value, dict) or hasattr(value, "parent") else "ids"


Level = Annotated[
    Annotated[IdList, Tag("ids")] | Annotated[LevelGroup, Tag("group")],
    Discriminator(_level_kind),
]
"""A hierarchical level: a list of ids, or a `{parent, children}` group."""


def _normalise_topology_type(value: Any) -> Any:
    if isinstance(value, str):
        return value.strip().lower().replace("_", "-")
    return value


class Topology(Model):
    type: Annotated[TopologyType, BeforeValidator(_normalise_topology_type)]
    hub: str | None = None
    spokes: IdList | None = None
    stages: list[IdList] | None = None
    connections: list[Connection] | None = None
    agents: IdList | None = None
    root: str | None = None
    levels: list[Level] | None = None


class Strategy(StrEnum):
    STAGED = "staged"
    SEQUENTIAL = "sequential"
    PARALLEL = "parallel"
    TOP_DOWN = "top-down"


class SshSettings(Model):
    key_file: str | None = None
    timeout: Seconds = Field(default=10.0, description="Seconds to connect.")
    known_hosts: str = Field(
        default="~/.ssh/known_hosts",
        description="Host keys to verify against, or 'ignore' to skip verification "
        "(each use logs a warning event).",
    )


class NetworkSettings(Model):
    allow_cross_host: bool = Field(default=True, description="Kept, not acted on yet.")
    firewall_rules: list[Any] = Field(default_factory=list, description="Kept, not acted on.")
    advertise_host: str | None = Field(
        default=None,
        description="How remote agents reach agents on this machine (its host name or "
        "address); default: this machine's host name.",
    )


DEFAULT_HEALTH = HealthCheck(
    enabled=True, type=ProbeType.HTTP, interval=10.0, retries=3, timeout=5.0, path="/health",
    scheme="http",
)


class JobDeployment(Model):
    strategy: Strategy = Strategy.STAGED
    timeout: Seconds = Field(default=60.0, description="Seconds for an agent to become ready.")
    stop_timeout: Seconds = Field(default=10.0, description="Seconds from SIGTERM to SIGKILL.")
    health_check: HealthCheck = Field(default_factory=HealthCheck)
    ssh: SshSettings = Field(default_factory=SshSettings)
    network: NetworkSettings = Field(default_factory=NetworkSettings)
    pull: bool = Field(default=False, description="Pull missing container images.")
    restart: RestartSettings = Field(default_factory=lambda: RestartSettings())
    on_agent_failure: Literal["shutdown", "continue"] = Field(
        default="shutdown",
        description="When an agent has failed: stop the job (exit 1), or report and go on.",
    )


class JobDefinition(Model):
    job: JobInfo
    agents: list[Agent] = Field(min_length=1)
    topology: Topology
    deployment: JobDeployment = Field(default_factory=JobDeployment)
    execution: dict[str, Any] = Field(default_factory=dict)
    environment: dict[str, EnvValue] = Field(default_factory=dict)

    def agent(self, agent_id: str) -> Agent:
        for agent in self.agents:
            if agent.id == agent_id:
                return agent
        raise KeyError(agent_id)

    def health_for(self, agent: Agent, base_dir: Path | None = None) -> EffectiveHealth:
        """Merge the agent's health check over the job's over the defaults.

        The shared fields merge first; `readiness` and `liveness` then each lay their
        own fields (the job's, then the agent's) over that result.
        """
        checks = [DEFAULT_HEALTH, self.deployment.health_check]
        if agent.health_check is not None:
            checks.append(agent.health_check)
        shared: dict[str, Any] = {}
        for check in checks:
            shared.update(check.model_dump(exclude_none=True, exclude={"readiness", "liveness"}))

        def purpose(name: str) -> EffectiveProbe:
            merged = dict(shared)
            for check in checks:
                layer = getattr(check, name)
                if layer is not None:
                    merged.update(layer.model_dump(exclude_none=True))
            if base_dir is not None and merged.get("ca_file"):
                merged["ca_file"] = str(base_dir / Path(merged["ca_file"]).expanduser())
            return EffectiveProbe(**merged)

        if base_dir is not None and shared.get("ca_file"):
            shared["ca_file"] = str(base_dir / Path(shared["ca_file"]).expanduser())

        return EffectiveHealth(
            **shared, readiness=purpose("readiness"), liveness=purpose("liveness")
        )

    def start_timeout_for(self, agent: Agent) -> float:
        """Seconds the agent has to become ready: its own `timeout`, else the job's."""
        return agent.deployment.timeout or self.deployment.timeout

    def stop_timeout_for(self, agent: Agent) -> float:
        return agent.deployment.stop_timeout or self.deployment.stop_timeout


class EffectiveProbe(Model):
    """One probe with nothing left unset (`command` and `pattern` only where needed)."""

    enabled: bool
    interval: float
    retries: int
    timeout: float
    path: str
    type: ProbeType = ProbeType.HTTP
    scheme: Literal["http", "https"] = "http"
    ca_file: str | None = None
    command: list[str] | None = None
    pattern: str | None = None

    @property
    def uses_network(self) -> bool:
        """Whether the probe connects to the agent's port (http, tcp, a2a)."""
        return self.type in (ProbeType.HTTP, ProbeType.TCP, ProbeType.A2A)


class EffectiveHealth(EffectiveProbe):
    """The health settings in force for one agent: the shared fields, and the probe for
    each purpose. Without explicit purposes (tests build it by hand) both are the
    shared probe."""

    readiness: EffectiveProbe | None = None
    liveness: EffectiveProbe | None = None

    def ready_probe(self) -> EffectiveProbe:
        return self.readiness if self.readiness is not None else self

    def live_probe(self) -> EffectiveProbe:
        """Liveness; a `log` readiness leaves liveness to the process being alive."""
        probe: EffectiveProbe = self.liveness if self.liveness is not None else self
        if probe.type is ProbeType.LOG:
            return probe.model_copy(update={"enabled": False})
        return probe


def scalar_text(value: Scalar | None) -> str:
    """How YAML scalars become environment text: booleans lower-case, None empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)

