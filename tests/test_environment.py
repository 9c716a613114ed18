"""The environment contract: what every agent process is told."""

from __future__ import annotations

import json
import os
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from agentsup import settings
from agentsup.environment import agent_environment, config_variable
from agentsup.job.envfiles import EnvFileError, read_env_file
from agentsup.job.loader import load_text
from agentsup.job.models import JobDefinition
from agentsup.plan import TopologyResolver


def load(text: str, base_dir: Path = Path(".")) -> JobDefinition:
    return load_text(
        textwrap.dedent(text), "job.yaml", base_dir=base_dir, import_check=False
    ).definition


def environments(text: str, base_dir: Path = Path(".")) -> dict[str, dict[str, str]]:
    definition = load(text, base_dir)
    plan = TopologyResolver().resolve(definition)
    return {a.id: agent_environment(definition, plan, a, base_dir) for a in definition.agents}


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


def test_lists_and_maps_in_config_become_json(env: dict[str, dict[str, str]]) -> None:
    controller = env["controller"]
    assert json.loads(controller["AGENT_NESTED"]) == {"a": 1}
    assert json.loads(controller["AGENT_TOOLS"]) == ["search", "maps"]
    assert controller["AGENT_TOOLS"] == '["search","maps"]'
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


# ---------------------------------------------------------------------- env files

ORDER_JOB = """\
job: {name: order}
env_file: [job-a.env, job-b.env]
environment:
  FROM_JOB_ENV: job-environment
  LAYER2: job-environment
  LAYER4: job-environment
agents:
  - id: a
    command: x
    config: {port: 9101}
    deployment:
      env_file: agent.env
      environment:
        LAYER4: agent-environment
  - {id: b, command: x, config: {port: 9102}}
topology: {type: dynamic}
"""


def write_env_files(directory: Path) -> None:
    (directory / "job-a.env").write_text(
        "# the first job file\nLAYER1=job-a\nLAYER2=job-a\nLAYER3=job-a\nLAYER4=job-a\n"
        "QUOTED=\"two words\"\nBARE\nAGENT_ID=not-allowed-to-win\n"
    )
    (directory / "job-b.env").write_text("LAYER1=job-b\nEXPANDED=${LAYER1}-x\n")
    (directory / "agent.env").write_text("export LAYER3=agent-file\nLAYER4=agent-file\n")


def test_env_files_come_in_the_documented_order(tmp_path: Path) -> None:
    write_env_files(tmp_path)
    env = environments(ORDER_JOB, tmp_path)
    a, b = env["a"], env["b"]
    assert a["LAYER1"] == "job-b"  # later job files win over earlier ones
    assert a["LAYER2"] == "job-environment"  # the job's environment wins over its files
    assert a["LAYER3"] == "agent-file"  # the agent's file wins over the job's
    assert a["LAYER4"] == "agent-environment"  # the agent's environment wins over all
    assert b["LAYER3"] == "job-a"
    assert b["LAYER4"] == "job-environment"
    assert a["QUOTED"] == "two words"
    assert a["BARE"] == ""
    assert a["EXPANDED"] == "job-b-x"
    # env files come after the contract: the user asked for it, the user gets it
    assert a["AGENT_ID"] == "not-allowed-to-win"


def test_env_files_are_relative_to_the_job_file_not_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    write_env_files(jobs)
    monkeypatch.chdir(tmp_path)
    assert environments(ORDER_JOB, jobs)["a"]["LAYER1"] == "job-b"


def test_a_missing_env_file_is_a_validate_error_with_its_position(tmp_path: Path) -> None:
    from agentsup.job.problems import JobFileError

    (tmp_path / "job-a.env").write_text("A=1\n")
    text = textwrap.dedent(ORDER_JOB)
    with pytest.raises(JobFileError) as caught:
        load_text(text, "job.yaml", base_dir=tmp_path, import_check=False)
    rendered = caught.value.render().splitlines()
    missing_b = str(tmp_path / "job-b.env")
    missing_agent = str(tmp_path / "agent.env")
    assert rendered == [
        f"job.yaml:2:23: env_file[1]: env file {missing_b!r} does not exist",
        f"job.yaml:12:17: agents[0].deployment.env_file[0]: env file {missing_agent!r} "
        "does not exist",
    ]


def test_an_env_file_that_is_a_directory_is_reported(tmp_path: Path) -> None:
    from agentsup.job.problems import JobFileError

    (tmp_path / "conf").mkdir()
    with pytest.raises(JobFileError, match=r"job.yaml:2:11: env_file\[0\]: .* is not a file"):
        load_text(
            "job: {name: d}\nenv_file: conf\nagents: [{id: a, command: x, config: {port: 1}}]\n"
            "topology: {type: dynamic}\n",
            "job.yaml", base_dir=tmp_path, import_check=False,
        )


# ---------------------------------------------------------------------- stop signal and inheritance


@pytest.mark.parametrize(("written", "name"), [("INT", "SIGINT"), ("sigint", "SIGINT"),
                                               ("SIGHUP", "SIGHUP"), ("usr1", "SIGUSR1")])
def test_stop_signal_names_are_normalised(written: str, name: str) -> None:
    job = load(f"""\
        job: {{name: s}}
        deployment: {{stop_signal: {written}}}
        agents:
          - {{id: a, command: x, config: {{port: 1}}}}
          - {{id: b, command: x, config: {{port: 2}}, deployment: {{stop_signal: TERM}}}}
        topology: {{type: dynamic}}
        """)
    assert settings.stop_signal(job, job.agent("a")) == name
    assert settings.stop_signal(job, job.agent("b")) == "SIGTERM"


def test_stop_signal_defaults_to_sigterm() -> None:
    job = load("""\
        job: {name: s}
        agents: [{id: a, command: x, config: {port: 1}}]
        topology: {type: dynamic}
        """)
    assert settings.stop_signal(job, job.agent("a")) == "SIGTERM"
    assert settings.inherits_environment(job, job.agent("a")) is True


@pytest.mark.parametrize("written", ["SIGNOPE", "KILL", "9", "[SIGINT]"])
def test_bad_stop_signals_are_errors_with_a_position(written: str) -> None:
    from agentsup.job.problems import JobFileError

    with pytest.raises(JobFileError) as caught:
        load(f"""\
            job: {{name: s}}
            agents:
              - id: a
                command: x
                config: {{port: 1}}
                deployment: {{stop_signal: {written}}}
            topology: {{type: dynamic}}
            """)
    message = caught.value.render()
    assert message.startswith("job.yaml:6:31: agents[0].deployment.stop_signal: ")
    assert "signal" in message


def test_inherit_environment_is_set_per_job_and_overridden_per_agent() -> None:
    job = load("""\
        job: {name: s}
        deployment: {inherit_environment: false}
        agents:
          - {id: a, command: x, config: {port: 1}}
          - {id: b, command: x, config: {port: 2}, deployment: {inherit_environment: true}}
        topology: {type: dynamic}
        """)
    assert settings.inherits_environment(job, job.agent("a")) is False
    assert settings.inherits_environment(job, job.agent("b")) is True


# ---------------------------------------------------------------------- env files read again later

@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda p: None, "does not exist"),
        (lambda p: p.mkdir(), "is not a file"),
        (lambda p: os.mkfifo(p), "is not a file"),  # reading a FIFO would block the start
        (lambda p: p.write_bytes(b"A=\xff\n"), "is not UTF-8 text (invalid start byte)"),
    ],
    ids=["missing", "directory", "fifo", "not-utf8"],
)
def test_an_env_file_that_cannot_be_read_is_an_error_not_an_empty_file(
    tmp_path: Path, make: Callable[[Path], object], reason: str
) -> None:
    """python-dotenv reads a missing path as an empty file; agentsup reads the file
    itself, so a file gone since the job was loaded is said, not dropped."""
    path = tmp_path / "gone.env"
    make(path)
    with pytest.raises(EnvFileError) as caught:
        read_env_file(path)
    assert str(caught.value) == f"env file {str(path)!r} {reason}"


def test_a_device_is_not_an_env_file(tmp_path: Path) -> None:
    with pytest.raises(EnvFileError, match="'/dev/zero' is not a file"):
        read_env_file(Path("/dev/zero"))


def test_an_env_file_is_parsed_as_before(tmp_path: Path) -> None:
    path = tmp_path / "a.env"
    path.write_text('A=1\nexport B="two words"\nC\nD=${A}-x\n# comment\nE=\'single\'\n')
    assert read_env_file(path) == {"A": "1", "B": "two words", "C": "", "D": "1-x",
                                   "E": "single"}


def test_env_file_lines_that_cannot_be_used_are_validate_errors(tmp_path: Path) -> None:
    """python-dotenv would log a warning without the file's name and leave these out
    (or, for a NUL, let the launch fail): each is a problem at the env_file entry,
    naming the file and its line."""
    from agentsup.job.problems import JobFileError

    (tmp_path / "weird.env").write_text(
        "GOOD=1\nnot a valid line\nKEY with space=1\nB=\"unterminated\nC=3\n"
    )
    (tmp_path / "nul.env").write_bytes(b"A=1\nB=x\0y\n")
    with pytest.raises(JobFileError) as caught:
        load_text(
            "job: {name: w}\nenv_file: [weird.env, nul.env]\n"
            "agents: [{id: a, command: x, config: {port: 1}}]\ntopology: {type: dynamic}\n",
            "job.yaml", base_dir=tmp_path, import_check=False,
        )
    weird, nul = str(tmp_path / "weird.env"), str(tmp_path / "nul.env")
    hint = "cannot be read as KEY=value (a name without spaces, `=` or `#`; a quoted value " \
        "needs its closing quote)"
    assert caught.value.render().splitlines() == [
        f"job.yaml:2:12: env_file[0]: env file {weird!r}, line 2: 'not a valid line' {hint}",
        f"job.yaml:2:12: env_file[0]: env file {weird!r}, line 3: 'KEY with space=1' {hint}",
        f"job.yaml:2:12: env_file[0]: env file {weird!r}, line 4: 'B=\"unterminated' {hint}",
        f"job.yaml:2:23: env_file[1]: env file {nul!r}, line 2: contains a NUL character, "
        "which no environment variable can hold",
    ]


def test_an_env_file_changed_after_the_check_is_refused_when_read(tmp_path: Path) -> None:
    path = tmp_path / "a.env"
    path.write_text("A=1\nB ad=2\n")
    with pytest.raises(EnvFileError, match=r"a.env', line 2: 'B ad=2' cannot be read as"):
        read_env_file(path)
