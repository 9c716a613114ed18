"""Commands: what one actor asks another (or a timer asks an actor) to do."""

from __future__ import annotations

from typing import Any

import msgspec

from agentsup.launches import LaunchText


class StartJob(msgspec.Struct, frozen=True):
    """Start the job's first stage (sent once by the main thread)."""


class AttachAgent(msgspec.Struct, frozen=True):
    """The main thread has made this agent's actor: the supervisor may tell it commands.

    The job starts while the actors are still being made (`app._run_actors`), so the
    first agents can be launched before the last actor thread exists; commands for an
    agent not attached yet wait in the supervisor until this arrives. `launch` is what
    shapes its process, which a reload compares.
    """

    agent_id: str
    ref: Any
    """Its `pykka.ActorRef`."""
    launch: LaunchText


class StopJob(msgspec.Struct, frozen=True):
    """Stop the job in reverse start order; `signal` names what asked for it."""

    signal: str | None = None


class KillAll(msgspec.Struct, frozen=True):
    """Kill every agent at once and finish (a second SIGINT); `signal` names it."""

    signal: str | None = None


class ShutdownTimedOut(msgspec.Struct, frozen=True):
    """A timer tick: `deployment.shutdown_timeout` has passed since the stop began."""


class StartAgent(msgspec.Struct, frozen=True):
    """Launch the agent's process and begin checking until it is ready."""


class RestartAgent(msgspec.Struct, frozen=True):
    """Launch the agent again after `delay` seconds (stopping it first if it still runs).

    `requested`: asked for over the control socket, which also undoes a requested stop.
    """

    attempt: int
    delay: float
    requested: bool = False


class StopAgent(msgspec.Struct, frozen=True):
    """Stop the agent's process group: SIGTERM, then SIGKILL after its stop timeout."""


class KillAgent(msgspec.Struct, frozen=True):
    """Kill the agent's process group at once; `reason` says why (for the reader of the
    history: the agent reports the exit that follows like any other)."""

    reason: str = ""


class CheckHealth(msgspec.Struct, frozen=True):
    """A timer tick: probe the agent now. Ticks from an older generation are dropped."""

    generation: int


class StartTimedOut(msgspec.Struct, frozen=True):
    """A timer tick: the start timeout of generation `generation` has passed. It fails a
    start that is not ready yet, whether or not a probe is still out."""

    generation: int


class PublishHealth(msgspec.Struct, frozen=True):
    """A timer tick: emit the `job.health` summary (`--monitor`)."""

    generation: int


class LaunchAgent(msgspec.Struct, frozen=True):
    """A timer tick: a restart delay is over, launch now. Stale ticks are dropped."""

    generation: int
