"""The job-file loader: YAML with positions, the schema, and how problems are shown.

Every error is asserted in its full `FILE:LINE:COL: path: message` form. Positions are
found from the YAML text itself (`at`), so the tests state where a problem should point
rather than repeating numbers by hand.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml
from jobtext import at

from agentsup import settings
from agentsup.job.loader import LoadedJob, load_job, load_text
from agentsup.job.models import (
    JobDefinition,
    LevelGroup,
    Strategy,
    Target,
    TopologyType,
    scalar_text,
)
from agentsup.job.problems import JobFileError
from agentsup.job.yamlpos import Mark, parse

FILE = "job.yaml"


def load(text: str) -> LoadedJob:
    return load_text(textwrap.dedent(text), FILE, base_dir=Path("."), import_check=False)


def mark(text: str, needle: str, occurrence: int = 1) -> Mark:
    """`at` as the parser's `Mark`, for asserting recorded positions."""
    line, column = at(text, needle, occurrence).split(":")
    return Mark(int(line), int(column))


def errors(text: str) -> list[str]:
    with pytest.raises(JobFileError) as caught:
        load(text)
    lines = caught.value.render().splitlines()
    assert str(caught.value) == caught.value.render()
    return lines


MINIMAL = """\
job:
  name: demo
agents:
  - id: a
    command: [serve]
    config:
      port: 8001
topology:
  type: dynamic
"""


def test_minimal_job_gets_the_documented_defaults() -> None:
    job = load(MINIMAL).definition
    assert job.job.name == "demo"
    assert job.job.version is None and job.job.tags == []
    agent = job.agents[0]
    assert agent.command == ["serve"] and agent.module is None and agent.type is None
    assert agent.deployment.target is Target.LOCALHOST
    assert agent.deployment.environment == {}
    assert job.deployment.strategy is Strategy.STAGED
    assert job.deployment.timeout == 60.0
    assert job.deployment.stop_timeout == 10.0
    assert job.deployment.ssh.timeout == 10.0 and job.deployment.ssh.key_file is None
    assert job.deployment.network.allow_cross_host is True
    assert job.deployment.network.firewall_rules == []
    assert job.execution == {} and job.environment == {}
    health = settings.health(job, agent)
    assert (health.enabled, health.interval, health.retries, health.timeout, health.path) == (
        True,
        10.0,
        3,
        5.0,
        "/health",
    )
    assert settings.stop_timeout(job, agent) == 10.0


FULL = """\
job:
  name: full-job
  version: 1.10
  description: every field
  tags: [a, b]
agents:
  - id: local
    type: Worker
    module: pkg.worker
    config: {port: 8001, model: small, temperature: 0.5, nested: {k: v}}
    resources: {cpu: 0.5, memory: 512M, gpu: 1}
    health_check: {path: /ready, interval: 0.25}
    deployment:
      target: localhost
      workdir: ../work
      environment: {DEBUG: true, RETRIES: 3, RATIO: 1.50, EMPTY: null, NAME: x}
      stop_timeout: 2.5
  - id: far
    command: "python3 -m far --name 'a b'"
    config: {port: 8002}
    deployment:
      target: remote
      host: box
      user: me
      port: 2222
      ssh_key: ~/.ssh/id
      password: hunter2
      python: python3.11
      workdir: /srv/far
  - id: boxed
    command: [python3, -m, http.server, 8003]
    config: {port: 8003}
    deployment:
      target: container
      image: demo:1
      network: net
      container_name: boxed-1
      host_port: 18003
  - id: kube
    command: [serve]
    config: {port: 8004}
    deployment: {target: kubernetes, namespace: ns, service_type: ClusterIP}
topology:
  type: mesh
deployment:
  strategy: top-down
  timeout: 12.5
  stop_timeout: 3
  health_check: {enabled: false, interval: 0.5, retries: 5, timeout: 0.75, path: /h}
  ssh: {key_file: ~/.ssh/k, timeout: 2.5}
  network:
    allow_cross_host: false
    firewall_rules: [{allow: 8001}, "deny all"]
execution: {entry_point: local, auto_start: true, anything: [1, 2]}
environment: {GLOBAL: 1, ON: false, VERSION: 010}
"""


def test_every_documented_field_parses_and_is_kept() -> None:
    job = load(FULL).definition
    assert job.job.version == "1.10"  # as written, not the float 1.1
    assert job.job.tags == ["a", "b"]
    local, far, boxed, kube = job.agents
    assert local.type == "Worker" and local.module == "pkg.worker"
    assert local.config.port == 8001
    assert local.config.scalars() == {"model": "small", "temperature": 0.5}
    assert local.resources is not None
    assert (local.resources.cpu, local.resources.memory, local.resources.gpu) == (0.5, "512M", 1)
    assert local.deployment.workdir == "../work"
    env = local.deployment.environment
    assert {k: scalar_text(v) for k, v in env.items()} == {
        "DEBUG": "true",
        "RETRIES": "3",
        "RATIO": "1.50",
        "EMPTY": "",
        "NAME": "x",
    }
    assert settings.stop_timeout(job, local) == 2.5
    health = settings.health(job, local)
    assert (health.enabled, health.interval, health.retries, health.timeout, health.path) == (
        False,
        0.25,
        5,
        0.75,
        "/ready",
    )
    assert far.command == ["python3", "-m", "far", "--name", "a b"]
    assert far.deployment.target is Target.REMOTE
    assert (far.deployment.host, far.deployment.user, far.deployment.port) == ("box", "me", 2222)
    assert far.deployment.password is not None
    assert far.deployment.password.get_secret_value() == "hunter2"
    assert "hunter2" not in repr(far.deployment)
    assert far.deployment.python == "python3.11"
    assert boxed.command == ["python3", "-m", "http.server", "8003"]
    assert boxed.deployment.target is Target.CONTAINER
    assert (boxed.deployment.image, boxed.deployment.host_port) == ("demo:1", 18003)
    assert (boxed.deployment.network, boxed.deployment.container_name) == ("net", "boxed-1")
    assert kube.deployment.target is Target.KUBERNETES
    assert (kube.deployment.namespace, kube.deployment.service_type) == ("ns", "ClusterIP")
    assert job.deployment.strategy is Strategy.TOP_DOWN
    assert job.deployment.timeout == 12.5
    assert job.deployment.ssh.timeout == 2.5
    assert job.deployment.network.allow_cross_host is False
    assert job.deployment.network.firewall_rules == [{"allow": 8001}, "deny all"]
    assert job.execution == {"entry_point": "local", "auto_start": True, "anything": [1, 2]}
    assert {k: scalar_text(v) for k, v in job.environment.items()} == {
        "GLOBAL": "1",
        "ON": "false",
        "VERSION": "010",
    }


def test_topology_type_is_normalised() -> None:
    text = MINIMAL.replace("type: dynamic", "type: Hub_Spoke\n  hub: a\n  spokes: []")
    assert load(text).definition.topology.type is TopologyType.HUB_SPOKE


def test_single_ids_are_accepted_where_lists_are_expected() -> None:
    text = """\
    job: {name: j}
    agents:
      - {id: a, command: x, config: {port: 1}}
      - {id: b, command: x, config: {port: 2}}
    topology:
      type: hierarchical
      levels:
        - {parent: a, children: b}
    """
    level = load(text).definition.topology.levels
    assert level == [LevelGroup(parent="a", children=["b"])]


def test_fractional_durations() -> None:
    text = MINIMAL + "deployment:\n  timeout: 0.5\n  health_check: {interval: 0.1, timeout: 0.05}\n"
    job = load(text).definition
    assert job.deployment.timeout == 0.5
    assert job.deployment.health_check.interval == 0.1
    assert job.deployment.health_check.timeout == 0.05


def test_dates_are_text_not_a_crash() -> None:
    text = MINIMAL.replace("name: demo", "name: demo\n  version: 2024-13-45")
    assert load(text).definition.job.version == "2024-13-45"


def test_x_keys_are_allowed_outside_free_form_maps_and_kept_inside_them() -> None:
    text = """\
    x-common: &common {command: [serve]}
    job: {name: j, x-owner: team}
    agents:
      - <<: *common
        id: a
        x-note: hi
        config: {port: 1, x-kept: 2}
        deployment: {x-later: true, environment: {x-env: 1}}
    topology: {type: dynamic, x-why: because}
    """
    agent = load(text).definition.agents[0]
    assert agent.command == ["serve"]
    assert agent.config.extra == {"x-kept": 2}
    assert agent.deployment.environment == {"x-env": "1"}


def test_merge_keys_explicit_values_win() -> None:
    text = """\
    x-base: &base {command: [base], config: {port: 1}}
    job: {name: j}
    agents:
      - <<: *base
        id: a
        config: {port: 2}
    topology: {type: dynamic}
    """
    agent = load(text).definition.agents[0]
    assert agent.command == ["base"] and agent.config.port == 2


def test_a_key_that_overrides_a_merged_one_is_located_where_it_is_written(
    tmp_path: Path,
) -> None:
    text = """\
    x-base: &base {module: agent, config: {port: 9301}}
    job: {name: md}
    agents:
      - <<: *base
        id: a
        module: agent2
    topology: {type: dynamic}
    """
    with pytest.raises(JobFileError) as caught:
        load_text(textwrap.dedent(text), FILE, base_dir=tmp_path, import_check=True)
    (line,) = caught.value.render().splitlines()
    text = textwrap.dedent(text)
    assert line.startswith(
        f"{FILE}:{at(text, 'agent2')}: agents[0].module: module 'agent2' cannot be found"
    )


def test_a_nested_value_that_overrides_a_merged_one_is_located_where_it_is_written() -> None:
    text = """\
    x-base: &base {module: agent, config: {port: 9301}}
    job: {name: mp}
    agents:
      - <<: *base
        id: a
        config: {port: 70000}
    topology: {type: dynamic}
    """
    assert errors(text) == [
        f"{FILE}:{at(textwrap.dedent(text), '70000')}: agents[0].config.port: "
        "must be a port number from 1 to 65535, not 70000"
    ]


def test_an_overriding_mapping_replaces_the_merged_one_with_its_positions() -> None:
    text = textwrap.dedent(
        """\
        x-base: &base
          command: [serve]
          deployment: {target: container, image: img, host_port: 1.10}
        job: {name: j}
        agents:
          - <<: *base
            id: a
            config: {port: 1}
            deployment:
              target: remot
        topology: {type: dynamic}
        """
    )
    parsed = parse(text)
    assert parsed.data == yaml.safe_load(text)
    deployment = ("agents", 0, "deployment")
    assert parsed.data["agents"][0]["deployment"] == {"target": "remot"}
    assert parsed.positions.values[deployment] == mark(text, "target: remot")
    assert parsed.positions.keys[deployment] == mark(text, "deployment", 2)
    assert parsed.positions.values[(*deployment, "target")] == mark(text, "remot")
    # Nothing is left of the merged mapping that lost.
    assert (*deployment, "image") not in parsed.positions.values
    assert (*deployment, "host_port") not in parsed.numbers
    (line,) = errors(text)
    assert line.startswith(f"{FILE}:{at(text, 'remot')}: agents[0].deployment.target: ")


def test_of_several_merged_mappings_the_first_that_gives_a_key_wins() -> None:
    text = textwrap.dedent(
        """\
        x-a: &a {command: [a], config: {port: 70001}}
        x-b: &b {command: [b], config: {port: 70002}, x-b: only-b}
        job: {name: j}
        agents:
          - <<: [*a, *b]
            id: a
        topology: {type: dynamic}
        """
    )
    parsed = parse(text)
    assert parsed.data == yaml.safe_load(text)
    agent = parsed.data["agents"][0]
    assert agent["command"] == ["a"] and agent["config"] == {"port": 70001}
    assert list(agent) == list(yaml.safe_load(text)["agents"][0])
    assert parsed.positions.values[("agents", 0, "command", 0)] == mark(text, "a]")
    assert parsed.positions.values[("agents", 0, "x-b")] == mark(text, "only-b")
    assert errors(text) == [
        f"{FILE}:{at(text, '70001')}: agents[0].config.port: "
        "must be a port number from 1 to 65535, not 70001"
    ]


def test_a_key_only_merged_in_is_located_in_the_anchor() -> None:
    text = textwrap.dedent(
        """\
        x-base: &base {command: [serve], config: {port: 0}}
        job: {name: j}
        agents:
          - <<: *base
            id: a
            deployment: {target: localhost}
        topology: {type: dynamic}
        """
    )
    parsed = parse(text)
    assert parsed.positions.keys[("agents", 0, "config")] == mark(text, "config")
    assert errors(text) == [
        f"{FILE}:{at(text, '0}')}: agents[0].config.port: "
        "must be a port number from 1 to 65535, not 0"
    ]


def test_merges_of_merges_keep_the_value_pyyaml_keeps() -> None:
    text = textwrap.dedent(
        """\
        x-a: &a {k: 1, j: 1}
        x-b: &b {<<: *a, k: 2}
        x-c: {<<: *b}
        x-d: {<<: {<<: *a, k: 3}}
        x-e: {<<: [*b, *a]}
        x-f: *b
        """
    )
    parsed = parse(text)
    assert parsed.problems == []
    assert parsed.data == yaml.safe_load(text)
    assert [parsed.data[k]["k"] for k in ("x-c", "x-d", "x-e", "x-f")] == [2, 3, 2, 2]
    assert parsed.positions.values[("x-c", "k")] == mark(text, "2}")
    assert parsed.positions.values[("x-c", "j")] == mark(text, "1}")
    assert parsed.positions.values[("x-d", "k")] == mark(text, "3}")
    assert parsed.positions.values[("x-e", "k")] == mark(text, "2}")


def test_a_mapping_with_merges_may_be_used_again_through_an_alias() -> None:
    # A mapping is read twice (where it is written and through `*b`); its merged `k`
    # is not a repeat of its own.
    text = "x-a: &a {k: 1}\nx-b: &b {<<: *a, k: 2}\nx-c: *b\n"
    parsed = parse(text)
    assert parsed.problems == []
    assert parsed.data == yaml.safe_load(text)


def test_a_mapping_that_merges_itself_is_a_syntax_error() -> None:
    (line,) = errors("job: &a {<<: {<<: *a}}\n")
    assert line == (
        f"{FILE}:1:6: (document): invalid YAML: found a mapping that merges itself "
        "(while constructing a mapping)"
    )


def test_two_merge_keys_in_one_mapping_are_a_repeated_key() -> None:
    text = """\
x-a: &a {command: x}
x-b: &b {config: {port: 8001}}
job: {name: m2}
agents:
  - <<: *a
    <<: *b
    id: a
topology: {type: dynamic}
"""
    assert errors(text) == [
        f"{FILE}:6:5: agents[0].<<: key '<<' is repeated (first given on line 5); merge "
        "several mappings with one `<<: [*a, *b]`",
    ]
    # the one way to say it is accepted
    fixed = text.replace("  - <<: *a\n    <<: *b\n", "  - <<: [*a, *b]\n")
    assert load(fixed).definition.agents[0].config.port == 8001


def test_merge_bomb_is_refused_quickly() -> None:
    text = "a0: &a0 {k: 1, j: 2}\n"
    for level in range(1, 40):
        text += f"a{level}: &a{level} {{<<: [*a{level - 1}, *a{level - 1}]}}\n"
    (line,) = errors(text)
    assert "more than 200000 values (too many aliases?)" in line


def test_load_job_reads_a_file_and_remembers_it(tmp_path: Path) -> None:
    path = tmp_path / "job.yaml"
    path.write_text(MINIMAL)
    loaded = load_job(path, import_check=False)
    assert isinstance(loaded.definition, JobDefinition)
    assert loaded.path == path and loaded.base_dir == tmp_path


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p / "missing.yaml", "no such file"),
        (lambda p: p, "is a directory, not a job file"),
    ],
)
def test_unreadable_paths(tmp_path: Path, make: object, message: str) -> None:
    path = make(tmp_path)  # type: ignore[operator]
    with pytest.raises(JobFileError) as caught:
        load_job(path)
    assert caught.value.render() == f"{path}: {message}"


def test_non_utf8_file(tmp_path: Path) -> None:
    path = tmp_path / "job.yaml"
    path.write_bytes(b"job: \xff\xfe\n")
    with pytest.raises(JobFileError) as caught:
        load_job(path)
    assert caught.value.render().startswith(f"{path}: is not UTF-8 text")


# --- YAML-level problems -------------------------------------------------------------


def test_yaml_syntax_error_is_located() -> None:
    text = "job:\n  name: [demo\nagents: []\n"
    assert errors(text) == [
        f"{FILE}:3:7: (document): invalid YAML: expected ',' or ']', but got ':' "
        "(while parsing a flow sequence)"
    ]


def test_tab_indentation_is_a_syntax_error() -> None:
    (line,) = errors("job:\n\tname: demo\n")
    assert line.startswith(f"{FILE}:2:1: (document): invalid YAML: found character '\\t'")


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n", "~\n", "null\n"])
def test_empty_file(text: str) -> None:
    assert errors(text) == [
        f"{FILE}:1:1: (document): the file is empty; a job file is a mapping with job, "
        "agents and topology"
    ]


@pytest.mark.parametrize(
    ("text", "kind"), [("- a\n- b\n", "a list"), ("just text\n", "a str"), ("42\n", "a int")]
)
def test_document_that_is_not_a_mapping(text: str, kind: str) -> None:
    assert errors(text) == [
        f"{FILE}:1:1: (document): the document is {kind}; it must be a mapping with job, "
        "agents and topology"
    ]


def test_several_documents_are_a_syntax_error() -> None:
    (line,) = errors(MINIMAL + "---\njob: {name: other}\n")
    assert line == (
        f"{FILE}:10:1: (document): invalid YAML: but found another document "
        "(expected a single document in the stream)"
    )


def test_bad_explicit_tags_are_syntax_errors() -> None:
    assert errors("job: !!int twelve\n") == [
        f"{FILE}:1:6: (document): invalid YAML: cannot read int value 'twelve': "
        "invalid literal for int() with base 10: 'twelve'"
    ]
    (line,) = errors("job: !!python/object:os.system x\n")
    assert line.startswith(f"{FILE}:1:6: (document): invalid YAML: could not determine")


def test_recursive_alias() -> None:
    lines = errors("job: &loop [*loop]\n")
    # The alias is the anchored node itself, so the position is the anchor's.
    assert f"{FILE}:1:6: job[0]: recursive YAML alias is not allowed" in lines
    assert f"{FILE}:1:6: job: should be a mapping" in lines


def test_alias_bomb_is_refused_quickly() -> None:
    text = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
    for level in "bcdefgh":
        previous = chr(ord(level) - 1)
        text += f"{level}: &{level} [" + ", ".join([f"*{previous}"] * 10) + "]\n"
    (line,) = errors(text)
    assert "more than 200000 values (too many aliases?)" in line


def test_deep_nesting_is_an_error_not_a_crash() -> None:
    (line,) = errors("job: " + "[" * 5000 + "]" * 5000 + "\n")
    assert line == f"{FILE}:1:1: (document): invalid YAML: the document is nested too deeply"


# --- schema problems -----------------------------------------------------------------


def test_unknown_key_with_did_you_mean() -> None:
    text = MINIMAL.replace("    config:", "    helth_check: {}\n    config:")
    assert errors(text) == [
        f"{FILE}:{at(text, 'helth_check')}: agents[0].helth_check: unknown key "
        "'helth_check'; did you mean 'health_check'?"
    ]


def test_unknown_key_without_a_close_match_lists_the_keys() -> None:
    text = MINIMAL + "zzz: 1\n"
    assert errors(text) == [
        f"{FILE}:10:1: zzz: unknown key 'zzz'; expected one of: agents, deployment, env_file, "
        "environment, execution, job, topology (or an 'x-' key)"
    ]


def test_unknown_keys_in_nested_models_suggest_from_that_model() -> None:
    text = """\
    job: {name: j}
    agents:
      - id: a
        command: x
        config: {port: 1}
        deployment: {target: remote, host: h, ssh_kee: k}
    topology:
      type: hierarchical
      levels:
        - {parent: a, childern: []}
    deployment: {health_check: {retry: 2}, netwrk: {}}
    """
    text = textwrap.dedent(text)
    assert errors(text) == [
        f"{FILE}:{at(text, 'ssh_kee')}: agents[0].deployment.ssh_kee: unknown key 'ssh_kee'; "
        "did you mean 'ssh_key'?",
        f"{FILE}:{at(text, '{parent')}: topology.levels[0].children: required key 'children' "
        "is missing",
        f"{FILE}:{at(text, 'childern')}: topology.levels[0].childern: unknown key 'childern'; "
        "did you mean 'children'?",
        f"{FILE}:{at(text, 'retry')}: deployment.health_check.retry: unknown key 'retry'; "
        "did you mean 'retries'?",
        f"{FILE}:{at(text, 'netwrk')}: deployment.netwrk: unknown key 'netwrk'; "
        "did you mean 'network'?",
    ]


def test_repeated_key_points_at_the_repeat() -> None:
    text = MINIMAL.replace("      port: 8001", "      port: 8001\n      port: 8002")
    assert errors(text) == [
        f"{FILE}:{at(text, 'port', 2)}: agents[0].config.port: key 'port' is repeated "
        "(first given on line 7); give it once"
    ]


def test_repeated_key_at_top_level_is_reported_with_other_problems() -> None:
    text = MINIMAL + "job:\n  name: again\n"
    assert errors(text) == [
        f"{FILE}:10:1: job: key 'job' is repeated (first given on line 1); give it once"
    ]


@pytest.mark.parametrize(
    ("drop", "path", "where"),
    [
        ("job:\n  name: demo\n", "job", "1:1"),
        ("  name: demo\n", "job.name", None),
        ("topology:\n  type: dynamic\n", "topology", "1:1"),
        ("      port: 8001\n", "agents[0].config.port", None),
    ],
)
def test_missing_required_keys(drop: str, path: str, where: str | None) -> None:
    text = MINIMAL.replace(drop, "")
    if drop == "  name: demo\n":
        text = text.replace("job:\n", "job: {}\n")
        where = at(text, "{}")
    if drop == "      port: 8001\n":
        text = text.replace("    config:\n", "    config: {model: m}\n")
        where = at(text, "{model")
    key = path.rsplit(".", 1)[-1]
    assert errors(text) == [f"{FILE}:{where}: {path}: required key {key!r} is missing"]


def test_agents_must_not_be_empty() -> None:
    text = "job: {name: j}\nagents: []\ntopology: {type: dynamic}\n"
    assert errors(text) == [f"{FILE}:2:9: agents: should have at least 1 item, not 0"]


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("0", "0"),
        ("70000", "70000"),
        ("http", "'http'"),
        ("true", "True"),
        ("-1", "-1"),
        ("[1]", "[1]"),
        ("8080.5", "8080.5"),
    ],
)
def test_bad_port(value: str, shown: str) -> None:
    text = MINIMAL.replace("port: 8001", f"port: {value}")
    assert errors(text) == [
        f"{FILE}:7:13: agents[0].config.port: must be a port number from 1 to 65535, not {shown}"
    ]


@pytest.mark.parametrize("value", ["1", "65535", "'8080'", "8080.0"])
def test_good_port(value: str) -> None:
    text = MINIMAL.replace("port: 8001", f"port: {value}")
    assert 1 <= load(text).definition.agents[0].config.port <= 65535


def test_bad_ssh_and_host_ports() -> None:
    text = MINIMAL.replace(
        "      port: 8001\n",
        "      port: 8001\n    deployment: {target: container, image: i, host_port: 0, port: x}\n",
    )
    assert errors(text) == [
        f"{FILE}:{at(text, '0, port')}: agents[0].deployment.host_port: must be a port number "
        "from 1 to 65535, not 0",
        f"{FILE}:{at(text, 'x}')}: agents[0].deployment.port: must be a port number from 1 to "
        "65535, not 'x'",
    ]


def test_enum_values_suggest_the_closest() -> None:
    text = MINIMAL.replace("type: dynamic", "type: hub-spok") + "deployment: {strategy: paralel}\n"
    assert errors(text) == [
        f"{FILE}:9:9: topology.type: should be 'hub-spoke', 'pipeline', 'dag', 'mesh', "
        "'hierarchical' or 'dynamic'; did you mean 'hub-spoke'?",
        f"{FILE}:{at(text, 'paralel')}: deployment.strategy: should be 'staged', "
        "'sequential', 'parallel' or 'top-down'; did you mean 'parallel'?",
    ]


def test_target_typo() -> None:
    text = MINIMAL.replace(
        "      port: 8001\n", "      port: 8001\n    deployment:\n      target: contaner\n"
    )
    assert errors(text) == [
        f"{FILE}:9:15: agents[0].deployment.target: should be 'localhost', 'remote', "
        "'container', 'swarm' or 'kubernetes'; did you mean 'container'?"
    ]


def test_environment_values_must_be_scalars() -> None:
    text = MINIMAL + "environment:\n  GOOD: 1\n  BAD: [1, 2]\n  WORSE: {a: 1}\n"
    assert errors(text) == [
        f"{FILE}:12:8: environment.BAD: must be text, a number or a boolean, not a list",
        f"{FILE}:13:10: environment.WORSE: must be text, a number or a boolean, not a mapping",
    ]


def test_wrong_shapes() -> None:
    text = """\
    job: {name: "bad name"}
    agents:
      - id: a
        command: ""
        config: null
        resources: {memory: lots, cpu: 0}
        health_check: {path: health, interval: 0}
    topology: {type: dynamic}
    deployment: {timeout: -1}
    """
    text = textwrap.dedent(text)
    assert errors(text) == [
        f"{FILE}:1:13: job.name: must start with a letter or digit and contain only letters, "
        "digits, '_', '.' and '-' (it names networks, containers and directories)",
        f"{FILE}:4:14: agents[0].command: must not be empty",
        f"{FILE}:5:13: agents[0].config: should be a mapping",
        f"{FILE}:6:25: agents[0].resources.memory: 'lots' is not a size; write it like 512M, "
        "1G or 2Gi",
        f"{FILE}:6:36: agents[0].resources.cpu: should be greater than 0",
        f"{FILE}:7:26: agents[0].health_check.path: must start with '/', like '/health'",
        f"{FILE}:7:44: agents[0].health_check.interval: should be greater than 0",
        f"{FILE}:9:23: deployment.timeout: should be greater than 0",
    ]


def test_problems_come_in_file_order_even_across_kinds() -> None:
    text = """\
    job:
      name: j
      name: k
    agents:
      - id: a
        comand: x
        config: {port: 99999}
    topology: {type: dynamic}
    """
    text = textwrap.dedent(text)
    assert errors(text) == [
        f"{FILE}:3:3: job.name: key 'name' is repeated (first given on line 2); give it once",
        f"{FILE}:6:5: agents[0].comand: unknown key 'comand'; did you mean 'command'?",
        f"{FILE}:{at(text, '99999')}: agents[0].config.port: must be a port number from 1 to "
        "65535, not 99999",
    ]


def test_unsplittable_command() -> None:
    text = MINIMAL.replace("command: [serve]", 'command: "serve \'oops"')
    assert errors(text) == [
        f"{FILE}:5:14: agents[0].command: cannot split command line: No closing quotation"
    ]


def test_control_characters_are_located() -> None:
    assert errors("job:\n  name: a\x08b\n") == [
        f"{FILE}:2:10: (document): invalid YAML: character #x0008 is not allowed in YAML "
        "(special characters are not allowed)"
    ]


def test_keys_are_taken_as_written() -> None:
    text = MINIMAL + "environment: {ON: 1, NO: 2, 1.10: 3, null: 4}\n"
    assert set(load(text).definition.environment) == {"ON", "NO", "1.10", "null"}


def test_mapping_as_a_key_is_refused() -> None:
    text = MINIMAL + "environment:\n  ? {a: 1}\n  : x\n"
    assert errors(text) == [
        f"{FILE}:11:3: environment: mapping keys must be plain values, not lists or mappings"
    ]


def test_exponent_numbers_are_numbers_as_in_yaml_1_2_but_argv_keeps_the_text() -> None:
    job = load(
        """
        job: {name: x}
        agents:
          - id: a
            command: [serve, 1e3, 1.10, 010]
            config: {port: 8080, ratio: 2e-1}
            deployment: {environment: {SCALE: 1E3}}
        topology: {type: mesh}
        deployment: {timeout: 1e2, restart: {backoff: {initial: 5e-1}}}
        """
    ).definition
    assert job.deployment.timeout == 100.0
    assert job.deployment.restart.backoff is not None
    assert job.deployment.restart.backoff.initial == 0.5
    assert job.agents[0].command == ["serve", "1e3", "1.10", "010"]
    assert job.agents[0].deployment.environment == {"SCALE": "1E3"}
    assert job.agents[0].config.scalars()["ratio"] == 0.2


def test_quoted_exponent_is_text_and_not_a_duration() -> None:
    (problem,) = errors(
        """
        job: {name: x}
        agents: [{id: a, command: [x], config: {port: 8080}}]
        topology: {type: mesh}
        deployment: {timeout: "1e2"}
        """
    )
    assert problem.endswith(
        "deployment.timeout: should be a valid number, not the text '1e2' "
        "(write numbers without quotes)"
    )


@pytest.mark.parametrize(
    ("written", "message"),
    [
        ('""', "must not be empty"),
        ("[]", "must not be empty"),
        ("\"serve 'oops\"", "cannot split command line: No closing quotation"),
        ("{run: x}", "should be a valid list"),
    ],
)
def test_agent_and_exec_probe_commands_refuse_alike(written: str, message: str) -> None:
    """An agent's `command` and an exec probe's are one type: the same words, each at
    its own position, for the shared check, the readiness override and the agent."""
    text = f"""\
    job: {{name: j}}
    agents:
      - id: a
        command: {written}
        config: {{port: 8001}}
        health_check:
          type: exec
          command: {written}
          readiness: {{command: {written}}}
    topology: {{type: dynamic}}
    """
    text = textwrap.dedent(text)
    assert errors(text) == [
        f"{FILE}:4:14: agents[0].command: {message}",
        f"{FILE}:8:16: agents[0].health_check.command: {message}",
        f"{FILE}:9:28: agents[0].health_check.readiness.command: {message}",
    ]


def test_agent_and_exec_probe_commands_accept_alike() -> None:
    text = """\
    job: {name: j}
    agents:
      - id: a
        command: "serve --name 'a b'"
        config: {port: 8001}
        health_check:
          type: exec
          command: [check, 3, 1.5]
          liveness: {command: "ping -c 1"}
    topology: {type: dynamic}
    """
    agent = load(text).definition.agents[0]
    assert agent.command == ["serve", "--name", "a b"]
    assert agent.health_check is not None and agent.health_check.liveness is not None
    assert agent.health_check.command == ["check", "3", "1.5"]
    assert agent.health_check.liveness.command == ["ping", "-c", "1"]
