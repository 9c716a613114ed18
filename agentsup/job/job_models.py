"""The job itself: its header, agents and topology, on the building blocks of `fields`,
`deployment_models` and `health_models`.

Import the schema models from `agentsup.job.schema_models`, which builds every model in
one go (see `building`); this module only holds the classes. The runtime reads a job as
the records generated from these (`agentsup.job.models`).
"""

# Annotations here are evaluated as written (no `from __future__ import annotations`):
# postponed, pydantic would compile and evaluate each one while building the models.

from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    WithJsonSchema,
)

from agentsup.job.deployment_models import (
    AgentDeployment,
    JobDeployment,
    Resources,
    RestartSettings,
)
from agentsup.job.fields import (
    Command,
    EnvFiles,
    EnvName,
    EnvValue,
    IdList,
    Model,
    Port,
)
from agentsup.job.health_models import HealthCheck
from agentsup.job.kinds import TopologyType
from agentsup.job.values import (
    SAFE_NAME,
    agent_id,
    empty_dict,
    empty_list,
    job_name,
    level_kind,
    topology_type,
    version_text,
)


class JobInfo(Model):
    name: Annotated[str, AfterValidator(job_name)] = Field(
        min_length=1,
        json_schema_extra={"pattern": SAFE_NAME},  # checked by `_safe_name`, with a hint
        description="The job's name; used in events and names.",
    )
    version: Annotated[
        str, BeforeValidator(version_text), WithJsonSchema({"type": ["string", "number"]})
    ] | None = Field(
        default=None, description="Free text; kept, not acted on."
    )
    description: str | None = None
    tags: list[str] = Field(default_factory=empty_list)


class AgentConfig(BaseModel):
    """Free-form agent settings; only `port` is required."""

    model_config = ConfigDict(extra="allow", frozen=True)

    port: Port = Field(description="The TCP port the agent serves HTTP on.")


class Agent(Model):
    id: Annotated[str, AfterValidator(agent_id)] = Field(
        min_length=1, json_schema_extra={"pattern": SAFE_NAME}
    )
    type: str | None = Field(default=None, description="Class the module defines.")
    module: str | None = Field(default=None, description="Run as `python -m module`.")
    command: Command | None = Field(
        default=None, description="A command line (string, split like a shell) or argv list."
    )
    config: AgentConfig
    resources: Resources | None = None
    health_check: HealthCheck | None = None
    deployment: AgentDeployment = Field(default_factory=AgentDeployment)
    restart: RestartSettings | None = Field(
        default=None, description="Overrides fields of the job's `deployment.restart`."
    )


class Connection(Model):
    from_: str = Field(alias="from")
    to: IdList
    type: str | None = Field(default=None, description="Free text; kept, not acted on.")


class LevelGroup(Model):
    """One `{parent, children}` entry of a hierarchical topology."""

    parent: str
    children: IdList


Level = Annotated[
    Annotated[IdList, Tag("ids")] | Annotated[LevelGroup, Tag("group")],
    Discriminator(level_kind),
]
"""A hierarchical level: a list of ids, or a `{parent, children}` group."""


class Topology(Model):
    type: Annotated[TopologyType, BeforeValidator(topology_type)]
    hub: str | None = None
    spokes: IdList | None = None
    stages: list[IdList] | None = None
    connections: list[Connection] | None = None
    agents: IdList | None = None
    root: str | None = None
    levels: list[Level] | None = None


class JobDefinition(Model):
    job: JobInfo
    agents: list[Agent] = Field(min_length=1)
    topology: Topology
    deployment: JobDeployment = Field(default_factory=JobDeployment)
    execution: dict[str, Any] = Field(default_factory=empty_dict)
    env_file: EnvFiles | None = Field(
        default=None,
        description="Env files (one or a list), relative to the job file; read first, "
        "before `environment`.",
    )
    environment: dict[EnvName, EnvValue] = Field(
        default_factory=empty_dict, json_schema_extra={"additionalProperties": False}
    )

