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
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    SecretStr,
    Strict,
    Tag,
    WithJsonSchema,
    field_validator,
)

Scalar = str | int | float | bool

MAX_SECONDS = 86_400.0
"""The longest duration a job file may give: one day. Longer (or infinite) values would
overflow timers and waits, or make a start-up, stop or restart never end."""

Seconds = Annotated[
    float,
    Strict(),
    Field(
        gt=0,
        le=MAX_SECONDS,
        allow_inf_nan=False,
        description="A duration in seconds: more than 0, at most 86400 (one day); "
        "may be fractional.",
    ),
]
"""Strict: `"10"` and `true` are not durations (the JSON Schema says number, too)."""

Flag = Annotated[bool, Strict()]
"""A boolean; `1` and `"yes"` are not (the JSON Schema says boolean)."""


def _whole_number(value: Any) -> Any:
    # JSON Schema counts 3.0 as an integer; booleans and text are not counts.
    if isinstance(value, bool | str):
        raise ValueError(f"should be a whole number, not {value!r}")
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


Count = Annotated[int, Field(ge=0), BeforeValidator(_whole_number)]
"""A whole number from 0; `"3"` and `true` are not (the JSON Schema says integer)."""
PositiveCount = Annotated[int, Field(ge=1), BeforeValidator(_whole_number)]
"""A whole number from 1."""


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
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= 65535:
        raise ValueError(f"must be a port number from 1 to 65535, not {value!r}")
    return int(text)


PORT_TEXT = (
    "^\\s*0*([1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]"
    "|6553[0-5])\\s*$"
)
Port = Annotated[
    int,
    Field(ge=1, le=65535),
    BeforeValidator(_port_number),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "integer", "minimum": 1, "maximum": 65535},
                {"type": "string", "pattern": PORT_TEXT},
            ]
        }
    ),
]
"""A TCP port. Checked before pydantic's own int coercion so `true` is not port 1."""


def _env_value(value: Any) -> Any:
    if isinstance(value, dict | list | tuple | set):
        kind = "a mapping" if isinstance(value, dict) else "a list"
        raise ValueError(f"must be text, a number or a boolean, not {kind}")
    if isinstance(value, str) and "\0" in value:
        raise ValueError("must not contain a NUL character (an environment cannot carry it)")
    return value


EnvValue = Annotated[
    Scalar | None,
    BeforeValidator(_env_value),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": "^[^\\u0000]*$"},
                {"type": ["number", "boolean", "null"]},
            ]
        }
    ),
]
"""An environment value; numbers and booleans become text when an agent starts."""


def _env_name(name: str) -> str:
    if not name:
        raise ValueError("an environment variable needs a name")
    if "=" in name or "\0" in name:
        bad = "'='" if "=" in name else "a NUL character"
        raise ValueError(f"environment variable name {name!r} must not contain {bad}")
    return name


ENV_NAME_PATTERN = "^[^=\u0000]+$"
EnvName = Annotated[
    str,
    AfterValidator(_env_name),
    WithJsonSchema({"type": "string", "pattern": ENV_NAME_PATTERN}),
]
"""A variable name: anything but empty, `=` or NUL (the kernel's rules, no more)."""


SAFE_NAME = "^[A-Za-z0-9][A-Za-z0-9_.-]*$"


PATH_OR_PATHS_SCHEMA = {
    "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}],
}
EnvFiles = Annotated[list[str], BeforeValidator(_as_list), WithJsonSchema(PATH_OR_PATHS_SCHEMA)]
"""One env file or a list of them, relative to the job file."""


def _signal_name(value: Any) -> Any:
    """`INT`, `sigint` and `SIGINT` all mean SIGINT; anything else is not a signal."""
    import signal

    if not isinstance(value, str):
        raise ValueError(f"must be a signal name like SIGTERM or SIGINT, not {value!r}")
    name = value.strip().upper()
    if not name.startswith("SIG"):
        name = "SIG" + name
    if name not in signal.Signals.__members__ or name in ("SIGKILL", "SIGSTOP"):
        raise ValueError(
            f"{value!r} is not a signal an agent can handle; use a name like SIGTERM, "
            "SIGINT, SIGHUP, SIGQUIT or SIGUSR1"
        )
    return name


StopSignal = Annotated[
    str,
    BeforeValidator(_signal_name),
    WithJsonSchema({"type": "string", "description": "A signal name: SIGTERM, SIGINT, INT, ..."}),
]
"""A signal name, normalised to `SIGNAME`."""

SIZE_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMG]?)I?B?\s*$")
SIZE_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3}


def _byte_size(value: Any) -> Any:
    """`10M`, `512K`, `1G` or a plain number of bytes."""
    if isinstance(value, bool):
        raise ValueError(f"must be a size like 10M, not {value!r}")
    if isinstance(value, int):
        size = value
    else:
        match = SIZE_PATTERN.match(str(value).upper())
        if not match:
            raise ValueError(f"{value!r} is not a size; write it like 512K, 10M or 1G")
        size = int(float(match.group(1)) * SIZE_UNITS[match.group(2)])
    if size < 1024:
        raise ValueError(f"{value!r} is too small; a log file may grow to at least 1K")
    return size


ByteSize = Annotated[
    int,
    BeforeValidator(_byte_size),
    WithJsonSchema({"type": ["string", "integer"], "description": "Bytes, or like 10M."}),
]

OutputLevel = Literal["debug", "info", "warning", "error"]


class OutputLevels(Model):
    """The event level of each stream of an agent's output; unset fields inherit."""

    stdout: OutputLevel | None = Field(default=None, description="Level of stdout lines (info).")
    stderr: OutputLevel | None = Field(
        default=None,
        description="Level of stderr lines (warning, so that `--log-level warning` still "
        "shows tracebacks).",
    )


DEFAULT_OUTPUT = {"stdout": "info", "stderr": "warning"}


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
    keep: int | None = Field(default=None, ge=0, description="Rotated files kept (5).")
    enabled: bool | None = Field(
        default=None, description="false turns the job's log files off for one agent."
    )


class JobInfo(Model):
    name: str = Field(
        min_length=1,
        json_schema_extra={"pattern": SAFE_NAME},  # checked by `_safe_name`, with a hint
        description="The job's name; used in events and names.",
    )
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
        """The scalar settings (the environment gives lists and maps too, as JSON)."""
        extra = self.model_extra or {}
        return {
            key: value
            for key, value in extra.items()
            if isinstance(value, str | int | float | bool)
        }


MEMORY_PATTERN = re.compile(r"^\d+(\.\d+)?\s*([KMGT]i?[Bb]?|[Bb])?$")
MEMORY_SCHEMA_PATTERN = r"^\s*\d+(\.\d+)?\s*([KMGT]i?[Bb]?|[Bb])?\s*$"


class Resources(Model):
    cpu: Annotated[float, Strict()] | None = Field(
        default=None, gt=0, allow_inf_nan=False, description="CPU cores (e.g. 0.5, 2)."
    )
    memory: Annotated[
        str,
        WithJsonSchema(
            {"anyOf": [{"type": "string", "pattern": MEMORY_SCHEMA_PATTERN}, {"type": "integer"}]}
        ),
    ] | None = Field(
        default=None, description="Memory like 512M, 1G or 2Gi."
    )
    gpu: Count | None = Field(default=None, description="Number of GPUs.")

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
        {"type": "string", "pattern": "\\S"},
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

    enabled: Flag | None = None
    type: ProbeType | None = Field(
        default=None, description="http (default), tcp, exec, log or a2a."
    )
    interval: Seconds | None = Field(default=None, description="Seconds between checks.")
    retries: PositiveCount | None = Field(
        default=None, description="Failures in a row before an agent is unhealthy."
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
    SWARM = "swarm"
    KUBERNETES = "kubernetes"


class Placement(Model):
    """Swarm's placement, in Swarm's own syntax (checked by the loader)."""

    constraints: list[str] = Field(
        default_factory=list,
        description="Like `node.role==worker` or `node.labels.gpu==true` (== or !=).",
    )
    preferences: list[str] = Field(
        default_factory=list, description="Like `spread=node.labels.zone`."
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
        default_factory=dict, json_schema_extra={"additionalProperties": False}
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
        # YAML 1.1 reads a bare `no` as false, which is taken as "no" (below).
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

    @field_validator("policy", mode="before")
    @classmethod
    def _yaml_no(cls, value: Any) -> Any:
        # YAML 1.1 reads a bare `no` as false; people mean the policy.
        return "no" if value is False else value


class Agent(Model):
    id: str = Field(min_length=1, json_schema_extra={"pattern": SAFE_NAME})
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
    allow_cross_host: Flag = Field(default=True, description="Kept, not acted on yet.")
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
    env_file: EnvFiles | None = Field(
        default=None,
        description="Env files (one or a list), relative to the job file; read first, "
        "before `environment`.",
    )
    environment: dict[EnvName, EnvValue] = Field(
        default_factory=dict, json_schema_extra={"additionalProperties": False}
    )

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

    def stop_signal_for(self, agent: Agent) -> str:
        return agent.deployment.stop_signal or self.deployment.stop_signal

    def inherits_environment(self, agent: Agent) -> bool:
        inherit = agent.deployment.inherit_environment
        return self.deployment.inherit_environment if inherit is None else inherit

    def output_levels_for(self, agent: Agent) -> dict[str, str]:
        """`{stream: level}` for one agent: its own, then the job's, then the defaults."""
        levels = dict(DEFAULT_OUTPUT)
        layers = [self.deployment.output, agent.deployment.output]
        for layer in layers:
            if layer is not None:
                levels.update(layer.model_dump(exclude_none=True))
        return levels

    def logs_for(self, agent: Agent) -> EffectiveLogFiles | None:
        """The log-file settings of one agent, or None when it writes none."""
        merged: dict[str, Any] = {"max_size": 10 * 1024**2, "keep": 5, "enabled": True}
        for layer in (self.deployment.logs, agent.deployment.logs):
            if layer is not None:
                merged.update(layer.model_dump(exclude_none=True))
        if not merged["enabled"] or merged.get("dir") is None:
            return None
        return EffectiveLogFiles(dir=merged["dir"], max_size=merged["max_size"],
                                 keep=merged["keep"])


class EffectiveLogFiles(Model):
    """The log-file settings in force for one agent."""

    dir: str
    max_size: int
    keep: int


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

