"""Events: what has happened, reported upwards with `tell`."""

from __future__ import annotations

import msgspec


class AgentStarted(msgspec.Struct, frozen=True):
    """The agent's process was launched."""

    agent_id: str
    run: int
    pid: int
    host: str


class AgentStartFailed(msgspec.Struct, frozen=True):
    """The agent could not be launched, or never became ready in time."""

    agent_id: str
    run: int
    reason: str


class AgentReady(msgspec.Struct, frozen=True):
    """The agent passed its first health check (or its grace period) for this run."""

    agent_id: str
    run: int
    url: str
    seconds: float
    name: str | None = None
    """The name an A2A agent gives itself in its agent card."""


class AgentExited(msgspec.Struct, frozen=True):
    """The agent's process ended without being asked to."""

    agent_id: str
    run: int
    exit_code: int | None
    signal: int | None
    reason: str | None = None


class HealthCheckFailed(msgspec.Struct, frozen=True):
    """A ready agent failed `retries` health checks in a row."""

    agent_id: str
    run: int
    failures: int
    error: str


class HealthRecovered(msgspec.Struct, frozen=True):
    """An agent that was reported unhealthy passed a health check again."""

    agent_id: str
    run: int


class AgentStopped(msgspec.Struct, frozen=True):
    """The agent's process is gone after a stop or kill that was asked for."""

    agent_id: str
    exit_code: int | None
    signal: int | None


# Messages an agent actor receives from its own runner, launch, prober and stopper
# threads.


class ProcessExited(msgspec.Struct, frozen=True):
    """The runner saw run `run` of the process end."""

    run: int
    exit_code: int | None
    signal: int | None
    reason: str | None = None


class Launched(msgspec.Struct, frozen=True):
    """The launch thread started run `run` of the process."""

    run: int
    pid: int
    host: str


class LaunchFailed(msgspec.Struct, frozen=True):
    """The launch thread could not start run `run` of the process."""

    run: int
    reason: str


class HealthChecked(msgspec.Struct, frozen=True):
    """A probe of generation `generation` finished."""

    generation: int
    ok: bool
    error: str
    peer: tuple[int, str, int] | None = None
    """(family, address, port) that answered a network probe."""
    name: str | None = None
    """The A2A agent card's name."""


class StopFinished(msgspec.Struct, frozen=True):
    """The stopper thread has seen the process of run `run` gone."""

    run: int
