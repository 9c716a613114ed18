"""Requests that arrive over the control socket, as messages to the job supervisor.

Each carries `reply`, a callback the supervisor calls once with an HTTP status and a
JSON body. The control server's thread waits for that answer; the supervisor never
waits for anything, so a request can never block the job.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Reply = Callable[[int, dict[str, Any]], None]


@dataclass(frozen=True)
class ReportStatus:
    """Answer with every agent's state, pid, host, URL, run, restarts and uptime."""

    reply: Reply


@dataclass(frozen=True)
class RestartAgents:
    """Restart these agents now, without spending their restart budget.

    Answered once each is ready again or has failed. A stopped agent is started.
    """

    agents: tuple[str, ...]
    reply: Reply


@dataclass(frozen=True)
class StopAgents:
    """Stop these agents and keep them stopped; no agents means stop the whole job.

    Answered once they are stopped (at once, for the whole job).
    """

    agents: tuple[str, ...]
    reply: Reply
