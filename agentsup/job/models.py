"""The job-file schema.

Every model forbids unknown keys so that a typo is an error with a suggestion instead of a
setting that silently does nothing. The free-form maps (`config`, `environment`,
`execution`) are the deliberate exceptions. Cross-field checks that need the whole job
(references, cycles, port clashes) live in `checks`, not here, so that all of them can be
reported at once with positions.

The schema is spread over `fields` (base model, checked scalar types),
`deployment_models`, `health_models` and `job_models` (the job itself); this module
imports them all and re-exports them, so `agentsup.job.models` stays the one import for
the whole schema, and every model is built in one block, without pydantic's plugin scan
(see `building`). What is in force for one agent once the layers are merged is computed
in `agentsup.settings`.
"""

from agentsup.job.building import without_plugin_scan

# Every model of the schema is built here, in one block; see `building` for why.
with without_plugin_scan():
    from agentsup.job.deployment_models import (
        DEFAULT_OUTPUT,
        MEMORY_PATTERN,
        MEMORY_SCHEMA_PATTERN,
        AgentDeployment,
        BackoffSettings,
        EffectiveLogFiles,
        JobDeployment,
        LogFiles,
        NetworkSettings,
        OutputLevels,
        Placement,
        Resources,
        RestartSettings,
        SshSettings,
        Strategy,
        SwarmSettings,
        Target,
    )
    from agentsup.job.fields import (
        COMMAND_SCHEMA,
        ENV_NAME_PATTERN,
        ID_OR_IDS_SCHEMA,
        MAX_KEPT_FILES,
        MAX_SECONDS,
        PATH_OR_PATHS_SCHEMA,
        PORT_TEXT,
        SAFE_NAME,
        SIZE_PATTERN,
        SIZE_UNITS,
        ByteSize,
        Command,
        Count,
        EnvFiles,
        EnvName,
        EnvValue,
        Flag,
        IdList,
        KeptFiles,
        Model,
        OutputLevel,
        Port,
        PositiveCount,
        Scalar,
        Seconds,
        StopSignal,
        scalar_text,
    )
    from agentsup.job.health_models import (
        DEFAULT_HEALTH,
        EffectiveHealth,
        EffectiveProbe,
        HealthCheck,
        ProbeSettings,
        ProbeType,
    )
    from agentsup.job.job_models import (
        Agent,
        AgentConfig,
        Connection,
        JobDefinition,
        JobInfo,
        Level,
        LevelGroup,
        Topology,
        TopologyType,
    )

__all__ = [
    "COMMAND_SCHEMA",
    "DEFAULT_HEALTH",
    "DEFAULT_OUTPUT",
    "ENV_NAME_PATTERN",
    "ID_OR_IDS_SCHEMA",
    "MAX_KEPT_FILES",
    "MAX_SECONDS",
    "MEMORY_PATTERN",
    "MEMORY_SCHEMA_PATTERN",
    "PATH_OR_PATHS_SCHEMA",
    "PORT_TEXT",
    "SAFE_NAME",
    "SIZE_PATTERN",
    "SIZE_UNITS",
    "Agent",
    "AgentConfig",
    "AgentDeployment",
    "BackoffSettings",
    "ByteSize",
    "Command",
    "Connection",
    "Count",
    "EffectiveHealth",
    "EffectiveLogFiles",
    "EffectiveProbe",
    "EnvFiles",
    "EnvName",
    "EnvValue",
    "Flag",
    "HealthCheck",
    "IdList",
    "JobDefinition",
    "JobDeployment",
    "JobInfo",
    "KeptFiles",
    "Level",
    "LevelGroup",
    "LogFiles",
    "Model",
    "NetworkSettings",
    "OutputLevel",
    "OutputLevels",
    "Placement",
    "Port",
    "PositiveCount",
    "ProbeSettings",
    "ProbeType",
    "Resources",
    "RestartSettings",
    "Scalar",
    "Seconds",
    "SshSettings",
    "StopSignal",
    "Strategy",
    "SwarmSettings",
    "Target",
    "Topology",
    "TopologyType",
    "scalar_text",
]
