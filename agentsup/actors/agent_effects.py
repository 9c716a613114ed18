"""What `AgentLogic` answers with, for the agent actor to carry out, and its settings."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import msgspec

from agentsup.job.models import EffectiveHealth
from agentsup.probes.polling import Polling
from agentsup.runners.base import LaunchSpec


class AgentSettings(msgspec.Struct, frozen=True):
    agent_id: str
    url: str
    health: EffectiveHealth
    start_timeout: float
    spec: LaunchSpec
    spec_at_launch: Callable[[], LaunchSpec] | None = None
    """Builds the spec anew at each launch, for an agent given URLs that are bound only
    once their agents run (swarm agents, see `agentsup.liveurls`)."""
    published: str | None = None
    """Where a container agent's port is published on the Docker host (`plan.published`).
    The runner takes it from its backend; it is here because it shapes the launch, so
    that a reload which changes it (an agent on another machine now connects to this
    one) relaunches the agent (`control.reload.launch_text`)."""


Slot = Literal["health", "deadline"]
"""The actor keeps at most one timer per slot: the health loop's next step, and the
start deadline. Setting a slot cancels what it held."""


class Launch(msgspec.Struct, frozen=True):
    """Start run `run` of the process off the actor thread; it answers with `Launched`
    or `LaunchFailed`. An output line matching `log_pattern` counts as a passed check of
    `generation` (log readiness)."""

    run: int
    generation: int
    log_pattern: str | None


class Probe(msgspec.Struct, frozen=True):
    """Probe the agent after `delay` (slot "health"); the result comes back as
    `HealthChecked(generation)`. `readiness` picks the readiness probe, else liveness.

    With `quiet_passes`, a passed check may be left unreported, the same probe then
    running again `delay` seconds later, until a check fails (reported, ending the
    repetition) or the slot is cancelled. The logic asks for it only when a pass would
    change nothing but schedule this very probe again, so a reported or an unreported
    pass lead to the same state and the same next check; a liveness check that passes
    after one that passed then costs no message to the actor.

    With `polling` (a network readiness probe), the converse: a failed attempt may be
    left unreported, the probe running again on the readiness schedule (`Polling`)
    until an attempt passes (reported at once), the start deadline comes (that failure
    reported) or the slot is cancelled or flushed (`FlushProbe`). The schedule is the
    one the logic follows on a reported failure, so reported and unreported failures
    lead to the same attempts; a booting agent's refused connects then cost no message
    to the actor."""

    delay: float
    generation: int
    readiness: bool
    quiet_passes: bool = False
    polling: Polling | None = None


class FlushProbe(msgspec.Struct, frozen=True):
    """End the probe in slot "health" and report its last failure, kept back while it
    polled, as a failed `HealthChecked(generation)` (with an empty reason when none
    was kept back): the reason a start that timed out gives."""

    generation: int


class After(msgspec.Struct, frozen=True):
    """Deliver `message` back to the actor after `seconds`, in `slot` if given."""

    seconds: float
    message: object
    slot: Slot | None = None


class Cancel(msgspec.Struct, frozen=True):
    """Call off the timer in `slot`, or in every slot."""

    slot: Slot | None = None


class Stop(msgspec.Struct, frozen=True):
    """Stop run `run` on a short-lived thread (SIGTERM, SIGKILL after `timeout`), which
    answers with `StopFinished(run)`."""

    run: int
    timeout: float


class Kill(msgspec.Struct, frozen=True):
    """Kill the process group at once; its exit comes back as `ProcessExited`."""


class Report(msgspec.Struct, frozen=True):
    """Tell the job supervisor `message`."""

    message: object


Effect = Launch | Probe | FlushProbe | After | Cancel | Stop | Kill | Report
