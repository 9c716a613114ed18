"""Restart policy values: back-off, budgets in a sliding window, and the job file's
`deployment.restart` merged with each agent's `restart`."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from agentsup.job.loader import load_text
from agentsup.job.models import JobDefinition
from agentsup.restart import (
    Backoff,
    FailureAction,
    RestartBudget,
    RestartMode,
    RestartPolicy,
)
from agentsup.settings import failure_action, restart_policies, restart_policy

# ----------------------------------------------------------------------------- Backoff


def test_backoff_defaults_match_the_documented_ones() -> None:
    backoff = Backoff()
    assert (backoff.initial, backoff.factor, backoff.max) == (0.5, 2.0, 30.0)
    assert [backoff.delay(n) for n in range(1, 10)] == [
        0.5,
        1.0,
        2.0,
        4.0,
        8.0,
        16.0,
        30.0,
        30.0,
        30.0,
    ]


@pytest.mark.parametrize(
    ("backoff", "expected"),
    [
        (Backoff(1.0, 3.0, 20.0), [1.0, 3.0, 9.0, 20.0, 20.0]),
        (Backoff(0.25, 1.0, 10.0), [0.25] * 5),  # factor 1: a constant delay
        (Backoff(5.0, 2.0, 2.0), [2.0] * 5),  # initial above max: max wins
    ],
)
def test_backoff_grows_by_factor_and_is_capped(backoff: Backoff, expected: list[float]) -> None:
    delays = [backoff.delay(n) for n in range(1, 6)]
    assert delays == expected
    assert all(isinstance(d, float) for d in delays)


def test_backoff_attempt_zero_or_below_is_the_initial_delay() -> None:
    assert Backoff(0.5, 2.0, 30.0).delay(0) == 0.5
    assert Backoff(0.5, 2.0, 30.0).delay(-3) == 0.5


# ----------------------------------------------------------------------------- RestartPolicy


@pytest.mark.parametrize(
    ("mode", "code", "signal", "wanted"),
    [
        (RestartMode.ON_FAILURE, 0, None, False),
        (RestartMode.ON_FAILURE, 1, None, True),
        (RestartMode.ON_FAILURE, 255, None, True),
        (RestartMode.ON_FAILURE, None, 9, True),
        (RestartMode.ON_FAILURE, None, 15, True),
        (RestartMode.ALWAYS, 0, None, True),
        (RestartMode.ALWAYS, 1, None, True),
        (RestartMode.ALWAYS, None, 9, True),
        (RestartMode.NO, 0, None, False),
        (RestartMode.NO, 1, None, False),
        (RestartMode.NO, None, 9, False),
    ],
)
def test_wants_restart_by_mode_and_exit(
    mode: RestartMode, code: int | None, signal: int | None, wanted: bool
) -> None:
    assert RestartPolicy(mode).wants_restart(code, signal) is wanted


def test_policy_defaults() -> None:
    policy = RestartPolicy()
    assert policy.mode is RestartMode.ON_FAILURE
    assert policy.max_restarts == 5
    assert policy.window == 60.0
    assert policy.backoff == Backoff()
    assert policy.restart_dependents is False


def test_mode_values_are_the_job_file_spellings() -> None:
    assert [m.value for m in RestartMode] == ["no", "on-failure", "always"]
    assert [a.value for a in FailureAction] == ["shutdown", "continue"]


# ----------------------------------------------------------------------------- RestartBudget


def test_budget_allows_max_restarts_then_refuses() -> None:
    budget = RestartBudget(RestartPolicy(max_restarts=3, window=60))
    assert [budget.next_attempt(t) for t in (0.0, 1.0, 2.0)] == [1, 2, 3]
    assert budget.next_attempt(3.0) is None
    assert budget.next_attempt(4.0) is None  # a refusal does not use up the budget further


def test_budget_window_slides() -> None:
    budget = RestartBudget(RestartPolicy(max_restarts=2, window=10))
    assert budget.next_attempt(0.0) == 1
    assert budget.next_attempt(5.0) == 2
    assert budget.next_attempt(9.0) is None
    # at 10.5 the restart at 0 has left the window, the one at 5 has not
    assert budget.next_attempt(10.5) == 2
    assert budget.next_attempt(11.0) is None
    # long after, everything has left the window: the count (and back-off) start over
    assert budget.next_attempt(100.0) == 1


def test_budget_with_zero_restarts_never_restarts() -> None:
    budget = RestartBudget(RestartPolicy(max_restarts=0))
    assert budget.next_attempt(0.0) is None


def test_budget_delay_follows_the_policy_backoff() -> None:
    budget = RestartBudget(RestartPolicy(backoff=Backoff(2.0, 2.0, 5.0)))
    assert [budget.delay(n) for n in (1, 2, 3)] == [2.0, 4.0, 5.0]


def test_budget_keeps_the_recent_exits() -> None:
    budget = RestartBudget(RestartPolicy())
    for code in range(15):
        budget.record_exit(f"exit code {code}")
    assert list(budget.exit_history) == [f"exit code {c}" for c in range(5, 15)]


# ----------------------------------------------------------------------------- from the job file


def job(restart: str = "", agent_restart: str = "", on_failure: str = "") -> JobDefinition:
    text = textwrap.dedent(
        """\
        job: {name: policy-test}
        agents:
          - id: a
            command: x
            config: {port: 9001}
        """
    )
    if agent_restart:
        text += "    restart: " + agent_restart + "\n"
    text += "  - {id: b, command: x, config: {port: 9002}}\n"
    text += "topology: {type: mesh, agents: [a, b]}\n"
    deployment = []
    if restart:
        deployment.append("  restart: " + restart)
    if on_failure:
        deployment.append("  on_agent_failure: " + on_failure)
    if deployment:
        text += "deployment:\n" + "\n".join(deployment) + "\n"
    return load_text(text, "job.yaml", base_dir=Path("."), import_check=False).definition


def test_no_settings_give_the_defaults() -> None:
    definition = job()
    assert restart_policy(definition, definition.agent("a")) == RestartPolicy()
    assert failure_action(definition) is FailureAction.SHUTDOWN


def test_job_settings_apply_to_every_agent() -> None:
    definition = job(
        restart="{policy: always, max_restarts: 2, window: 5, backoff: {initial: 1, factor: 3, "
        "max: 7}, restart_dependents: true}"
    )
    expected = RestartPolicy(RestartMode.ALWAYS, 2, 5.0, Backoff(1.0, 3.0, 7.0), True)
    assert restart_policies(definition) == {"a": expected, "b": expected}


def test_an_agent_overrides_one_field_and_inherits_the_others() -> None:
    definition = job(
        restart="{policy: always, max_restarts: 2, window: 5, backoff: {initial: 1, factor: 3}}",
        agent_restart="{max_restarts: 9, backoff: {max: 7}}",
    )
    a = restart_policy(definition, definition.agent("a"))
    b = restart_policy(definition, definition.agent("b"))
    assert a == RestartPolicy(RestartMode.ALWAYS, 9, 5.0, Backoff(1.0, 3.0, 7.0), False)
    assert b == RestartPolicy(RestartMode.ALWAYS, 2, 5.0, Backoff(1.0, 3.0, 30.0), False)


def test_agent_settings_without_job_settings_fall_back_to_defaults() -> None:
    definition = job(agent_restart="{window: 15, restart_dependents: true}")
    a = restart_policy(definition, definition.agent("a"))
    assert a == RestartPolicy(window=15.0, restart_dependents=True)


def test_zero_and_false_overrides_are_not_mistaken_for_unset() -> None:
    definition = job(
        restart="{max_restarts: 4, restart_dependents: true}",
        agent_restart="{max_restarts: 0, restart_dependents: false}",
    )
    a = restart_policy(definition, definition.agent("a"))
    assert a.max_restarts == 0
    assert a.restart_dependents is False


@pytest.mark.parametrize("spelling", ["no", "'no'", '"no"', "No"])
def test_yaml_policy_no_is_the_policy_not_false(spelling: str) -> None:
    definition = job(restart="{policy: on-failure}", agent_restart=f"{{policy: {spelling}}}")
    assert definition.agent("a").restart is not None
    assert definition.agent("a").restart.policy == "no"
    assert restart_policy(definition, definition.agent("a")).mode is RestartMode.NO
    assert restart_policy(definition, definition.agent("b")).mode is RestartMode.ON_FAILURE


def test_job_level_policy_no() -> None:
    definition = job(restart="{policy: no}")
    assert definition.deployment.restart.policy == "no"
    assert {p.mode for p in restart_policies(definition).values()} == {RestartMode.NO}


def test_on_agent_failure_continue() -> None:
    assert failure_action(job(on_failure="continue")) is FailureAction.CONTINUE
