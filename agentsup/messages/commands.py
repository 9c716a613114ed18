"""Commands: what one actor asks another (or a timer asks an actor) to do."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StartJob:
    """Start the job's first stage (sent once by the main thread)."""


@dataclass(frozen=True)
class StopJob:
    """Stop the job in reverse start order; `signal` names what asked for it."""

    signal: str | None = None


@dataclass(frozen=True)
class KillAll:
    """Kill every agent at once and finish (a second SIGINT); `signal` names it."""

    signal: str | None = None


@dataclass(frozen=True)
class ShutdownTimedOut:
    """A timer tick: `deployment.shutdown_timeout` has passed since the stop began."""


@dataclass(frozen=True)
class StartAgent:
    """Launch the agent's process and begin checking until it is ready."""


@dataclass(frozen=True)
class RestartAgent:
    """Launch the agent again after `delay` seconds (stopping it first if it still runs).

    `requested`: asked for over the control socket, which also undoes a requested stop.
    """

    attempt: int
    delay: float
    requested: bool = False


@dataclass(frozen=True)
class StopAgent:
    """Stop the agent's process group: SIGTERM, then SIGKILL after its stop timeout."""


@dataclass(frozen=True)
class KillAgent:
    """Kill the agent's process group at once; `reason` says why (for the reader of the
    history: the agent reports the exit that follows like any other)."""

    reason: str = ""


@dataclass(frozen=True)
class CheckHealth:
    """A timer tick: probe the agent now. Ticks from an older generation are dropped."""

    generation: int


@dataclass(frozen=True)
class StartTimedOut:
    """A timer tick: the start timeout of generation `generation` has passed. It fails a
    start that is not ready yet, whether or not a probe is still out."""

    generation: int


@dataclass(frozen=True)
class PublishHealth:
    """A timer tick: emit the `job.health` summary (`--monitor`)."""

    generation: int


@dataclass(frozen=True)
class LaunchAgent:
    """A timer tick: a restart delay is over, launch now. Stale ticks are dropped."""

    generation: int
