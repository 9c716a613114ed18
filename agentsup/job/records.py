"""The job file's records: one frozen Struct for each pydantic model of the schema.

Do not edit: run `python -m agentsup.job.generate` (see `generate` for why).
"""

from __future__ import annotations

from typing import Any, Literal

from msgspec import Struct, field

from agentsup.job.kinds import ProbeType, Strategy, Target, TopologyType
from agentsup.job.record_parts import AgentConfig, JobMethods
from agentsup.job.values import Secret, empty_dict, empty_list


class JobInfo(Struct, frozen=True, kw_only=True):
    name: str
    version: str | None = None
    description: str | None = None
    tags: list[str] = field(default_factory=empty_list)


class Resources(Struct, frozen=True, kw_only=True):
    cpu: float | None = None
    memory: str | None = None
    gpu: int | None = None


class ProbeSettings(Struct, frozen=True, kw_only=True):
    """The fields of one probe; unset fields inherit (see `HealthCheck`)."""

    enabled: bool | None = None
    type: ProbeType | None = None
    interval: float | None = None
    retries: int | None = None
    timeout: float | None = None
    path: str | None = None
    scheme: Literal['http', 'https'] | None = None
    ca_file: str | None = None
    command: list[str] | None = None
    pattern: str | None = None


class HealthCheck(ProbeSettings, frozen=True, kw_only=True):
    """Health-check settings; unset fields inherit from the job, then the defaults."""

    readiness: ProbeSettings | None = None
    liveness: ProbeSettings | None = None


class Placement(Struct, frozen=True, kw_only=True):
    """Swarm's placement, in Swarm's own syntax (checked by the loader)."""

    constraints: list[str] = field(default_factory=empty_list)
    preferences: list[str] = field(default_factory=empty_list)


class OutputLevels(Struct, frozen=True, kw_only=True):
    """The event level of each stream of an agent's output; unset fields inherit."""

    stdout: Literal['debug', 'info', 'warning', 'error'] | None = None
    stderr: Literal['debug', 'info', 'warning', 'error'] | None = None


class LogFiles(Struct, frozen=True, kw_only=True):
    """Where agents' output is also written, with size-based rotation."""

    dir: str | None = None
    max_size: int | None = None
    keep: int | None = None
    enabled: bool | None = None


class AgentDeployment(Struct, frozen=True, kw_only=True):
    target: Target = Target.LOCALHOST
    host: str | None = None
    user: str | None = None
    port: int | None = None
    ssh_key: str | None = None
    password: Secret | None = None
    python: str | None = None
    workdir: str | None = None
    image: str | None = None
    network: str | None = None
    container_name: str | None = None
    host_port: int | None = None
    pull: bool | None = None
    placement: Placement | None = None
    namespace: str | None = None
    service_type: str | None = None
    env_file: list[str] | None = None
    environment: dict[str, str | int | float | bool | None] = field(default_factory=empty_dict)
    stop_timeout: float | None = None
    stop_signal: str | None = None
    inherit_environment: bool | None = None
    output: OutputLevels | None = None
    logs: LogFiles | None = None
    timeout: float | None = None


class BackoffSettings(Struct, frozen=True, kw_only=True):
    initial: float | None = None
    factor: float | None = None
    max: float | None = None


class RestartSettings(Struct, frozen=True, kw_only=True):
    """Restart policy; unset fields inherit from the job's, then the defaults."""

    policy: Literal['no', 'on-failure', 'always'] | None = None
    max_restarts: int | None = None
    window: float | None = None
    backoff: BackoffSettings | None = None
    restart_dependents: bool | None = None


class Agent(Struct, frozen=True, kw_only=True):
    id: str
    type: str | None = None
    module: str | None = None
    command: list[str] | None = None
    config: AgentConfig
    resources: Resources | None = None
    health_check: HealthCheck | None = None
    deployment: AgentDeployment = field(default_factory=AgentDeployment)
    restart: RestartSettings | None = None


class Connection(Struct, frozen=True, kw_only=True):
    from_: str
    to: list[str]
    type: str | None = None


class LevelGroup(Struct, frozen=True, kw_only=True):
    """One `{parent, children}` entry of a hierarchical topology."""

    parent: str
    children: list[str]


class Topology(Struct, frozen=True, kw_only=True):
    type: TopologyType
    hub: str | None = None
    spokes: list[str] | None = None
    stages: list[list[str]] | None = None
    connections: list[Connection] | None = None
    agents: list[str] | None = None
    root: str | None = None
    levels: list[list[str] | LevelGroup] | None = None


class SshSettings(Struct, frozen=True, kw_only=True):
    key_file: str | None = None
    timeout: float = 10.0
    known_hosts: str = '~/.ssh/known_hosts'


class NetworkSettings(Struct, frozen=True, kw_only=True):
    allow_cross_host: bool = True
    firewall_rules: list[Any] = field(default_factory=empty_list)
    advertise_host: str | None = None


class SwarmSettings(Struct, frozen=True, kw_only=True):
    engine: str | None = None


class JobDeployment(Struct, frozen=True, kw_only=True):
    strategy: Strategy = Strategy.STAGED
    timeout: float = 60.0
    stop_timeout: float = 10.0
    shutdown_timeout: float | None = None
    stop_signal: str = 'SIGTERM'
    inherit_environment: bool = True
    output: OutputLevels = field(default_factory=OutputLevels)
    logs: LogFiles | None = None
    health_check: HealthCheck = field(default_factory=HealthCheck)
    ssh: SshSettings = field(default_factory=SshSettings)
    network: NetworkSettings = field(default_factory=NetworkSettings)
    swarm: SwarmSettings = field(default_factory=SwarmSettings)
    pull: bool = False
    restart: RestartSettings = field(default_factory=RestartSettings)
    on_agent_failure: Literal['shutdown', 'continue'] = 'shutdown'


class JobDefinition(Struct, JobMethods[Agent], frozen=True, kw_only=True):
    job: JobInfo
    agents: list[Agent]
    topology: Topology
    deployment: JobDeployment = field(default_factory=JobDeployment)
    execution: dict[str, Any] = field(default_factory=empty_dict)
    env_file: list[str] | None = None
    environment: dict[str, str | int | float | bool | None] = field(default_factory=empty_dict)
