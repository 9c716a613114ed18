"""What a reload compares to decide that an agent changed: `control.reload.launch_text`.

An agent given swarm agents' URLs carries a builder that makes its spec again at each
launch; that builder is a new function whenever the settings are made. The text must
not differ for that alone, or every reload would restart the agent.
"""

from __future__ import annotations

from pathlib import Path

from agentsup.actors.agent import AgentSettings
from agentsup.control.reload import launch_text
from agentsup.job.loader import load_text
from agentsup.job.models import EffectiveHealth
from agentsup.launches import LaunchText
from agentsup.runners.base import LaunchSpec

JOB = """\
job: {name: t}
agents:
  - {id: a, command: [sleep, "60"], config: {port: 18001}}
topology: {type: dynamic}
"""


def _settings(env: dict[str, str], live: bool) -> AgentSettings:
    spec = LaunchSpec("a", ("sleep", "60"), env, Path("."), stop_timeout=3.0)

    def build() -> LaunchSpec:  # a new function each time, as app's `_live_spec` makes
        return spec

    return AgentSettings(
        agent_id="a", url="http://localhost:18001",
        health=EffectiveHealth(enabled=True, interval=10.0, retries=2, timeout=1.0,
                               path="/health"),
        start_timeout=60.0, spec=spec, spec_at_launch=build if live else None,
    )


def test_the_same_agent_built_twice_reads_the_same() -> None:
    agent = load_text(JOB, "job.yaml", base_dir=Path("."), import_check=False).definition.agents[0]
    first = launch_text(agent, _settings({"X": "1"}, live=True))
    again = launch_text(agent, _settings({"X": "1"}, live=True))
    assert first == again
    assert "function" not in first


def test_a_change_that_shapes_the_process_reads_differently() -> None:
    agent = load_text(JOB, "job.yaml", base_dir=Path("."), import_check=False).definition.agents[0]
    base = launch_text(agent, _settings({"X": "1"}, live=True))
    assert launch_text(agent, _settings({"X": "2"}, live=True)) != base
    assert launch_text(agent, _settings({"X": "1"}, live=False)) != base


def test_a_launch_is_made_into_text_only_when_compared_and_only_once() -> None:
    """The start passes each agent's launch unmade (`launches.LaunchText`): only a
    reload compares, so only a reload pays for the text."""
    made: list[str] = []

    def make(text: str) -> str:
        made.append(text)
        return text

    first = LaunchText(lambda: make("a"))
    second = LaunchText(lambda: make("a"))
    changed = LaunchText(lambda: make("b"))
    assert made == []
    assert first == second and first != changed
    assert first == LaunchText.known("a")
    assert hash(first) == hash(second)
    assert sorted(made) == ["a", "a", "b"]  # each made once, for all those comparisons
