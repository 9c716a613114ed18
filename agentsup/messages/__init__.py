"""The messages that pass between actors.

Commands are in the imperative and ask an actor to do something; events are in the
past tense and report something that happened. All are frozen `msgspec.Struct` records so
that a message cannot change after it was sent.
"""

from agentsup.messages.commands import (
    AttachAgent,
    CheckHealth,
    KillAgent,
    KillAll,
    LaunchAgent,
    PublishHealth,
    RestartAgent,
    ShutdownTimedOut,
    StartAgent,
    StartJob,
    StartTimedOut,
    StopAgent,
    StopJob,
)
from agentsup.messages.control import ReloadJob, ReportStatus, RestartAgents, StopAgents
from agentsup.messages.events import (
    AgentExited,
    AgentReady,
    AgentStarted,
    AgentStartFailed,
    AgentStopped,
    HealthChecked,
    HealthCheckFailed,
    HealthRecovered,
    Launched,
    LaunchFailed,
    ProcessExited,
    StopFinished,
)

__all__ = [
    "AgentExited",
    "AgentReady",
    "AgentStartFailed",
    "AgentStarted",
    "AgentStopped",
    "AttachAgent",
    "CheckHealth",
    "HealthCheckFailed",
    "HealthChecked",
    "HealthRecovered",
    "KillAgent",
    "KillAll",
    "LaunchAgent",
    "LaunchFailed",
    "Launched",
    "ProcessExited",
    "PublishHealth",
    "ReloadJob",
    "ReportStatus",
    "RestartAgent",
    "RestartAgents",
    "ShutdownTimedOut",
    "StartAgent",
    "StartJob",
    "StartTimedOut",
    "StopAgent",
    "StopAgents",
    "StopFinished",
    "StopJob",
]
