"""The job-file schema as pydantic models: the one place the schema is written.

Every model forbids unknown keys so that a typo is an error with a suggestion instead of a
setting that silently does nothing. The free-form maps (`config`, `environment`,
`execution`) are the deliberate exceptions. Cross-field checks that need the whole job
(references, cycles, port clashes) live in `checks`, not here, so that all of them can be
reported at once with positions.

The schema is spread over `fields` (base model, checked types), `deployment_models`,
`health_models` and `job_models` (the job itself); this module builds them all in one
block, without pydantic's plugin scan (see `building`). Building pydantic's classes
costs about 0.2 s, so commands that only run or check a job never import this module:
`python -m agentsup.job.generate` writes frozen Structs with the same fields into
`records` and the validation schema these models make into `records_schema`, which is
what `start`, `validate` and the runtime use (`agentsup.job.models`, `validation`).
`agentsup schema`, the loader's suggestions for unknown keys and the generator use the
models here.
"""

from agentsup.job.building import without_plugin_scan

# Every model of the schema is built here, in one block; see `building` for why.
with without_plugin_scan():
    from agentsup.job.deployment_models import (
        AgentDeployment,
        BackoffSettings,
        JobDeployment,
        LogFiles,
        NetworkSettings,
        OutputLevels,
        Placement,
        Resources,
        RestartSettings,
        SshSettings,
        SwarmSettings,
    )
    from agentsup.job.fields import (
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
        Port,
        PositiveCount,
        Seconds,
        SecretText,
        StopSignal,
    )
    from agentsup.job.health_models import HealthCheck, ProbeSettings
    from agentsup.job.job_models import (
        Agent,
        AgentConfig,
        Connection,
        JobDefinition,
        JobInfo,
        Level,
        LevelGroup,
        Topology,
    )

__all__ = [
    "Agent",
    "AgentConfig",
    "AgentDeployment",
    "BackoffSettings",
    "ByteSize",
    "Command",
    "Connection",
    "Count",
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
    "OutputLevels",
    "Placement",
    "Port",
    "PositiveCount",
    "ProbeSettings",
    "Resources",
    "RestartSettings",
    "Seconds",
    "SecretText",
    "SshSettings",
    "StopSignal",
    "SwarmSettings",
    "Topology",
]
