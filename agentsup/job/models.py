"""The job as the runtime sees it: records, enumerations and the values they hold.

One import for everything that reads a loaded job. The records are frozen
`msgspec.Struct`s generated from the pydantic schema models (`records`, `generate`); the
loader fills them through `validation`. Nothing here builds a pydantic class, so every
command that runs or checks a job is spared that cost; the pydantic models themselves are
in `schema_models`, for `agentsup schema` and the generator. What is in force for one
agent once the layers are merged is computed in `agentsup.settings`.
"""

from agentsup.job.effective import EffectiveHealth, EffectiveLogFiles, EffectiveProbe
from agentsup.job.kinds import ProbeType, Strategy, Target, TopologyType
from agentsup.job.record_parts import AgentConfig
from agentsup.job.records import (
    Agent,
    AgentDeployment,
    BackoffSettings,
    Connection,
    HealthCheck,
    JobDefinition,
    JobDeployment,
    JobInfo,
    LevelGroup,
    LogFiles,
    NetworkSettings,
    OutputLevels,
    Placement,
    ProbeSettings,
    Resources,
    RestartSettings,
    SshSettings,
    SwarmSettings,
    Topology,
)
from agentsup.job.values import (
    DEFAULT_OUTPUT,
    MAX_KEPT_FILES,
    MAX_SECONDS,
    MEMORY_PATTERN,
    SAFE_NAME,
    Scalar,
    Secret,
    scalar_text,
)

DEFAULT_HEALTH = HealthCheck(
    enabled=True, type=ProbeType.HTTP, interval=10.0, retries=3, timeout=5.0, path="/health",
    scheme="http",
)
"""The health check of an agent whose job file says nothing of it."""

__all__ = [
    "DEFAULT_HEALTH",
    "DEFAULT_OUTPUT",
    "MAX_KEPT_FILES",
    "MAX_SECONDS",
    "MEMORY_PATTERN",
    "SAFE_NAME",
    "Agent",
    "AgentConfig",
    "AgentDeployment",
    "BackoffSettings",
    "Connection",
    "EffectiveHealth",
    "EffectiveLogFiles",
    "EffectiveProbe",
    "HealthCheck",
    "JobDefinition",
    "JobDeployment",
    "JobInfo",
    "LevelGroup",
    "LogFiles",
    "NetworkSettings",
    "OutputLevels",
    "Placement",
    "ProbeSettings",
    "ProbeType",
    "Resources",
    "RestartSettings",
    "Scalar",
    "Secret",
    "SshSettings",
    "Strategy",
    "SwarmSettings",
    "Target",
    "Topology",
    "TopologyType",
    "scalar_text",
]
