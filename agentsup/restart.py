"""Restart policy and restart budgets, as plain values and functions of a clock reading.

Kept apart from the actors so that the budget, the window and the back-off can be driven
by scripted histories in tests with a fake clock.
"""

from __future__ import annotations

from collections import deque
from enum import StrEnum

import msgspec


class RestartMode(StrEnum):
    NO = "no"
    ON_FAILURE = "on-failure"
    ALWAYS = "always"


class FailureAction(StrEnum):
    SHUTDOWN = "shutdown"
    CONTINUE = "continue"


class Backoff(msgspec.Struct, frozen=True):
    initial: float = 0.5
    factor: float = 2.0
    max: float = 30.0

    def delay(self, attempt: int) -> float:
        """Delay before restart number `attempt` (1-based) of a run of restarts."""
        return float(min(self.initial * self.factor ** max(attempt - 1, 0), self.max))


class RestartPolicy(msgspec.Struct, frozen=True):
    mode: RestartMode = RestartMode.ON_FAILURE
    max_restarts: int = 5
    window: float = 60.0
    backoff: Backoff = msgspec.field(default_factory=Backoff)
    restart_dependents: bool = False

    def wants_restart(self, exit_code: int | None, signal: int | None) -> bool:
        """Whether this way of ending calls for a restart at all (before the budget)."""
        match self.mode:
            case RestartMode.ALWAYS:
                return True
            case RestartMode.ON_FAILURE:
                return signal is not None or exit_code != 0
            case RestartMode.NO:
                return False


class RestartBudget(msgspec.Struct):
    """Counts restarts inside a sliding window; more than `max_restarts` is a failure."""

    policy: RestartPolicy
    restarts: deque[float] = msgspec.field(default_factory=deque)
    exit_history: deque[str] = msgspec.field(default_factory=lambda: deque(maxlen=10))

    def record_exit(self, description: str) -> None:
        self.exit_history.append(description)

    def next_attempt(self, now: float) -> int | None:
        """The number of the restart to make now, or None when the budget is spent.

        Restarts older than the window no longer count, so an agent that has been
        stable for a whole window starts again from the initial back-off.
        """
        while self.restarts and now - self.restarts[0] > self.policy.window:
            self.restarts.popleft()
        if len(self.restarts) >= self.policy.max_restarts:
            return None
        self.restarts.append(now)
        return len(self.restarts)

    def delay(self, attempt: int) -> float:
        return self.policy.backoff.delay(attempt)
