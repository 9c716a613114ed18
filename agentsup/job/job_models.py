"""The job itself: its header, agents and topology, on the building blocks of `fields`,
`deployment_models` and `health_models`.

Import the schema from `agentsup.job.models`, which builds every model in one go (see
`building`); this module only holds the classes.
"""

# Annotations here are evaluated as written (no `from __future__ import annotations`):
# postponed, pydantic would compile and evaluate each one while building the models.

from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    WithJsonSchema,
    field_validator,
)

from agentsup.job.deployment_models import (
    AgentDeployment,
    JobDeployment,
    Resources,
    RestartSettings,
)
from agentsup.job.fields import (
    SAFE_NAME,
    Command,
    EnvFiles,
    EnvName,
    EnvValue,
    IdList,
    Model,
    Port,
    Scalar,
    empty_dict,
    empty_list,
    safe_name,
)
from agentsup.job.health_models import HealthCheck


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
    tags: list[str] = Field(default_factory=empty_list)

    @field_validator("version", mode="before")
    @classmethod
    def _version_as_text(cls, value: Any) -> Any:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        return value

    @field_validator("name")
    @classmethod
    def _safe_name(cls, value: str) -> str:
        return safe_name(value, "it names networks, containers and directories")


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


class Agent(Model):
    id: str = Field(min_length=1, json_schema_extra={"pattern": SAFE_NAME})
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

    @field_validator("id")
    @classmethod
    def _safe_id(cls, value: str) -> str:
        return safe_name(value, "ids become host names and variable values")



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

    def agent(self, agent_id: str) -> Agent:
        for agent in self.agents:
            if agent.id == agent_id:
                return agent
        raise KeyError(agent_id)

