"""The environment contract: what every agent process is told."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from agentsup.environment import agent_environment, config_variable
from agentsup.job.loader import load_text
from agentsup.job.models import JobDefinition
from agentsup.plan import TopologyResolver


def load(text: str) -> JobDefinition:
    return load_text(
        textwrap.dedent(text), "job.yaml", base_dir=Path("."), import_check=False
    ).definition


def environments(text: str) -> dict[str, dict[str, str]]:
    definition = load(text)
    plan = TopologyResolver().resolve(definition)
    return {a.id: agent_environment(definition, plan, a) for a in definition.agents}


HUB_SPOKE = """\
job: {name: env-demo}
agents:
  - id: controller
    command: x
    config:
      port: 8101
      model-name: gpt-4
      temperature: 0.5
      verbose: true
      quiet: false
      max_tokens: 512
      nested: {a: 1}
      tools: [search, maps]
      empty: null
    deployment:
      environment:
        SHARED: from-agent
        AGENT_FLAG: true
        COUNT: 7
  - {id: weather, command: x, config: {port: 8102}}
  - {id: maps, command: x, config: {port: 8103}}
topology: {type: hub-spoke, hub: controller, spokes: [weather, maps]}
environment:
  SHARED: from-job
  JOB_ONLY: 1
  RATIO: 0.25
  DEBUG: false
"""


@pytest.fixture(scope="module")
def env() -> dict[str, dict[str, str]]:
    return environments(HUB_SPOKE)


def test_identity_and_port(env: dict[str, dict[str, str]]) -> None:
    assert env["controller"]["AGENT_ID"] == "controller"
    assert env["controller"]["AGENT_PORT"] == "8101"
    assert env["weather"]["AGENT_ID"] == "weather"
    assert env["weather"]["AGENT_PORT"] == "8102"


def test_job_name(env: dict[str, dict[str, str]]) -> None:
    for variables in env.values():
        assert variables["AGENTSUP_JOB"] == "env-demo"
        assert variables["JOB_ID"] == "env-demo"


def test_other_config_scalars_become_agent_variables(env: dict[str, dict[str, str]]) -> None:
    controller = env["controller"]
    assert controller["AGENT_MODEL_NAME"] == "gpt-4"
    assert controller["AGENT_TEMPERATURE"] == "0.5"
    assert controller["AGENT_VERBOSE"] == "true"
    assert controller["AGENT_QUIET"] == "false"
    assert controller["AGENT_MAX_TOKENS"] == "512"


def test_nested_config_values_are_skipped(env: dict[str, dict[str, str]]) -> None:
    controller = env["controller"]
    assert "AGENT_NESTED" not in controller
    assert "AGENT_TOOLS" not in controller
    assert "AGENT_EMPTY" not in controller
    # the weather agent has only a port: no AGENT_ variables beyond the contract
    assert {k for k in env["weather"] if k.startswith("AGENT_")} == {"AGENT_ID", "AGENT_PORT"}


def test_connected_agents_in_topology_order(env: dict[str, dict[str, str]]) -> None:
    assert env["controller"]["CONNECTED_AGENTS"] == "http://localhost:8102,http://localhost:8103"
    assert env["weather"]["CONNECTED_AGENTS"] == ""
    assert env["maps"]["CONNECTED_AGENTS"] == ""


def test_connections_as_json(env: dict[str, dict[str, str]]) -> None:
    connections = json.loads(env["controller"]["AGENTSUP_CONNECTIONS"])
    assert connections == {"weather": "http://localhost:8102", "maps": "http://localhost:8103"}
    assert list(connections) == ["weather", "maps"]
    assert json.loads(env["maps"]["AGENTSUP_CONNECTIONS"]) == {}


def test_job_environment_then_agent_environment(env: dict[str, dict[str, str]]) -> None:
    assert env["controller"]["SHARED"] == "from-agent"
    assert env["weather"]["SHARED"] == "from-job"
    assert env["controller"]["JOB_ONLY"] == "1"
    assert env["maps"]["JOB_ONLY"] == "1"
    assert "COUNT" not in env["weather"]


def test_numbers_and_booleans_become_text(env: dict[str, dict[str, str]]) -> None:
    controller = env["controller"]
    assert controller["RATIO"] == "0.25"
    assert controller["DEBUG"] == "false"
    assert controller["AGENT_FLAG"] == "true"
    assert controller["COUNT"] == "7"
    for variables in env.values():
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in variables.items())


def test_connected_agents_follow_dag_and_pipeline_order() -> None:
    dag = environments(
        """\
        job: {name: dag}
        agents:
          - {id: ingest, command: x, config: {port: 8301}}
          - {id: p1, command: x, config: {port: 8302}}
          - {id: p2, command: x, config: {port: 8303}}
          - {id: out, command: x, config: {port: 8304}}
        topology:
          type: dag
          connections:
            - {from: ingest, to: [p2, p1]}
            - {from: p1, to: out}
            - {from: p2, to: out}
        """
    )
    assert dag["ingest"]["CONNECTED_AGENTS"] == "http://localhost:8303,http://localhost:8302"
    assert list(json.loads(dag["ingest"]["AGENTSUP_CONNECTIONS"])) == ["p2", "p1"]
    assert dag["p1"]["CONNECTED_AGENTS"] == "http://localhost:8304"
    assert dag["out"]["CONNECTED_AGENTS"] == ""

    pipeline = environments(
        """\
        job: {name: pipe}
        agents:
          - {id: fetch, command: x, config: {port: 8401}}
          - {id: clean-a, command: x, config: {port: 8402}}
          - {id: clean-b, command: x, config: {port: 8403}}
          - {id: sum, command: x, config: {port: 8404}}
        topology: {type: pipeline, stages: [fetch, [clean-a, clean-b], sum]}
        """
    )
    assert pipeline["fetch"]["CONNECTED_AGENTS"] == "http://localhost:8402,http://localhost:8403"
    assert pipeline["clean-b"]["CONNECTED_AGENTS"] == "http://localhost:8404"
    assert pipeline["sum"]["CONNECTED_AGENTS"] == ""


def test_contract_variables_are_not_overwritten_by_config_keys() -> None:
    env = environments(
        """\
        job: {name: clash}
        agents:
          - {id: a, command: x, config: {port: 9001, id: other, Port: 1}}
        topology: {type: dynamic}
        """
    )["a"]
    assert env["AGENT_ID"] == "a"
    assert env["AGENT_PORT"] == "9001"


@pytest.mark.parametrize(
    ("key", "variable"),
    [
        ("model", "AGENT_MODEL"),
        ("model-name", "AGENT_MODEL_NAME"),
        ("maxTokens", "AGENT_MAXTOKENS"),
        ("a.b", "AGENT_A_B"),
    ],
)
def test_config_variable_names(key: str, variable: str) -> None:
    assert config_variable(key) == variable
