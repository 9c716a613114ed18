"""The whole-job checks: references, coverage, cycles, port clashes, targets, modules.

Every problem is asserted as `FILE:LINE:COL: path: message`, with the position found
from the YAML text (`at`).
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from jobtext import at

from agentsup.job.loader import LoadedJob, load_job, load_text
from agentsup.job.problems import JobFileError

FILE = "job.yaml"


def load(text: str, base_dir: Path = Path("."), import_check: bool = False) -> LoadedJob:
    return load_text(text, FILE, base_dir=base_dir, import_check=import_check)


def errors(text: str, base_dir: Path = Path("."), import_check: bool = False) -> list[str]:
    with pytest.raises(JobFileError) as caught:
        load(text, base_dir, import_check)
    return caught.value.render().splitlines()


def job(agents: str, topology: str) -> str:
    return "job: {name: j}\nagents:\n" + textwrap.dedent(agents) + textwrap.dedent(topology)


THREE = """\
- {id: alpha, command: x, config: {port: 8001}}
- {id: beta, command: x, config: {port: 8002}}
- {id: gamma, command: x, config: {port: 8003}}
"""


# --- module / command ----------------------------------------------------------------


def test_neither_module_nor_command() -> None:
    text = job("- id: a\n  config: {port: 1}\n", "topology: {type: dynamic}\n")
    assert errors(text) == [
        f"{FILE}:3:3: agents[0]: needs 'module' (run as python -m MODULE) or 'command' "
        "(a command line)"
    ]


def test_both_module_and_command() -> None:
    text = job(
        "- id: a\n  module: m\n  command: [x]\n  config: {port: 1}\n", "topology: {type: dynamic}\n"
    )
    assert errors(text) == [
        f"{FILE}:{at(text, '[x]')}: agents[0].command: give either 'module' or 'command', not both"
    ]


def test_duplicate_ids() -> None:
    text = job(
        THREE + "- {id: beta, command: x, config: {port: 8004}}\n", "topology: {type: mesh}\n"
    )
    assert errors(text) == [
        f"{FILE}:{at(text, 'beta', 2)}: agents[3].id: agent id 'beta' is already used by "
        "agents[1]; ids must be unique"
    ]


# --- references and coverage ---------------------------------------------------------


def test_unknown_agent_reference_with_suggestion() -> None:
    text = job(THREE, "topology: {type: hub-spoke, hub: alpha, spokes: [beta, gama, zzz]}\n")
    # gamma is never named correctly, so it is also outside the topology.
    assert errors(text) == [
        f"{FILE}:{at(text, 'gamma')}: agents[2].id: agent 'gamma' is not part of the "
        "hub-spoke topology; add it there or remove the agent",
        f"{FILE}:{at(text, 'gama')}: topology.spokes[1]: no agent has id 'gama'; "
        "did you mean 'gamma'?",
        f"{FILE}:{at(text, 'zzz')}: topology.spokes[2]: no agent has id 'zzz'; "
        "agents are: alpha, beta, gamma",
    ]


def sorted_by_position(lines: list[str]) -> list[str]:
    def key(line: str) -> tuple[int, int]:
        _, row, column, _ = line.split(":", 3)
        return int(row), int(column)

    return sorted(lines, key=key)


@pytest.mark.parametrize(
    ("topology", "path"),
    [
        ("{type: pipeline, stages: [alpha, [beta, gamm], gamma]}", "topology.stages[1][1]"),
        (
            "{type: dag, connections: [{from: alpha, to: [beta, gamm]}, {from: gamma, to: beta}]}",
            "topology.connections[0].to[1]",
        ),
        (
            "{type: dag, connections: [{from: gamm, to: beta}, {from: alpha, to: gamma}]}",
            "topology.connections[0].from",
        ),
        ("{type: mesh, agents: [alpha, beta, gamma, gamm]}", "topology.agents[3]"),
        ("{type: hierarchical, root: gamm, levels: [[alpha, beta, gamma]]}", "topology.root"),
        (
            "{type: hierarchical, levels: [{parent: alpha, children: [beta, gamma]},"
            " {parent: gamm, children: []}]}",
            "topology.levels[1].parent",
        ),
    ],
)
def test_unknown_references_in_every_topology(topology: str, path: str) -> None:
    text = job(THREE, f"topology: {topology}\n")
    # The agents list says "gamma"; the mistake is the one "gamm" not followed by "a".
    mistake = next(i for i in range(len(text)) if text.startswith("gamm", i) and text[i + 4] != "a")
    line = text.count("\n", 0, mistake) + 1
    column = mistake - text.rfind("\n", 0, mistake)
    assert errors(text) == [
        f"{FILE}:{line}:{column}: {path}: no agent has id 'gamm'; did you mean 'gamma'?"
    ]


@pytest.mark.parametrize(
    ("topology", "kind"),
    [
        ("{type: hub-spoke, hub: alpha, spokes: [beta]}", "hub-spoke"),
        ("{type: pipeline, stages: [alpha, beta]}", "pipeline"),
        ("{type: dag, connections: [{from: alpha, to: beta}]}", "dag"),
        ("{type: mesh, agents: [alpha, beta]}", "mesh"),
        ("{type: hierarchical, root: alpha, levels: [[beta]]}", "hierarchical"),
    ],
)
def test_agents_the_topology_never_mentions(topology: str, kind: str) -> None:
    text = job(THREE, f"topology: {topology}\n")
    assert errors(text) == [
        f"{FILE}:{at(text, 'gamma')}: agents[2].id: agent 'gamma' is not part of the {kind} "
        "topology; add it there or remove the agent"
    ]


@pytest.mark.parametrize("topology", ["{type: mesh}", "{type: dynamic}"])
def test_mesh_without_agents_and_dynamic_include_everyone(topology: str) -> None:
    assert len(load(job(THREE, f"topology: {topology}\n")).definition.agents) == 3


@pytest.mark.parametrize(
    ("topology", "message", "where"),
    [
        ("{type: hub-spoke, hub: alpha}", "a hub-spoke topology needs 'spokes'", "{type"),
        ("{type: pipeline}", "a pipeline topology needs 'stages'", "{type"),
        ("{type: dag}", "a dag topology needs 'connections'", "{type"),
        ("{type: hierarchical, root: alpha}", "a hierarchical topology needs 'levels'", "{type"),
    ],
)
def test_topology_required_fields(topology: str, message: str, where: str) -> None:
    text = job(THREE, f"topology: {topology}\n")
    assert f"{FILE}:{at(text, where)}: topology: {message}" in errors(text)


def test_topology_field_of_another_type() -> None:
    text = job(THREE, "topology:\n  type: mesh\n  hub: alpha\n")
    assert errors(text) == [
        f"{FILE}:{at(text, 'hub')}: topology.hub: 'hub' belongs to a hub-spoke topology, not mesh"
    ]


def test_levels_must_not_mix_lists_and_maps() -> None:
    text = job(
        THREE,
        "topology:\n  type: hierarchical\n  levels:\n    - [alpha]\n"
        "    - {parent: alpha, children: [beta, gamma]}\n",
    )
    assert errors(text) == [
        f"{FILE}:{at(text, '- [alpha]')}: topology.levels: levels are either all lists of ids "
        "or all {parent, children} maps, not both"
    ]


# --- cycles --------------------------------------------------------------------------


def test_dag_cycle_is_named_as_its_path() -> None:
    text = job(
        THREE,
        """\
        topology:
          type: dag
          connections:
            - {from: alpha, to: beta}
            - {from: beta, to: gamma}
            - {from: gamma, to: alpha}
        """,
    )
    assert errors(text) == [
        f"{FILE}:{at(text, '- {from: alpha')}: topology.connections: the topology has a cycle: "
        "alpha -> beta -> gamma -> alpha; no start order satisfies it"
    ]


def test_dag_cycle_behind_a_tail_names_only_the_cycle() -> None:
    text = job(
        THREE + "- {id: delta, command: x, config: {port: 8004}}\n",
        "topology:\n  type: dag\n  connections:\n    - {from: delta, to: alpha}\n"
        "    - {from: alpha, to: [beta]}\n    - {from: beta, to: [gamma, alpha]}\n",
    )
    (line,) = errors(text)
    assert line.endswith(
        "the topology has a cycle: alpha -> beta -> alpha; no start order satisfies it"
    )


def test_self_connection_points_at_the_edge() -> None:
    text = job(
        THREE,
        "topology: {type: dag, connections: [{from: alpha, to: [beta, alpha]},"
        " {from: beta, to: gamma}]}\n",
    )
    assert errors(text) == [
        f"{FILE}:{at(text, 'alpha]')}: topology.connections[0].to[1]: agent 'alpha' would "
        "connect to itself"
    ]


def test_hierarchical_cycle_is_reported_on_levels() -> None:
    text = job(
        THREE,
        "topology:\n  type: hierarchical\n  root: alpha\n  levels:\n"
        "    - {parent: alpha, children: [beta]}\n    - {parent: beta, children: [gamma]}\n"
        "    - {parent: gamma, children: [alpha]}\n",
    )
    assert errors(text) == [
        f"{FILE}:{at(text, '- {parent: alpha')}: topology.levels: the topology has a cycle: "
        "alpha -> beta -> gamma -> alpha; no start order satisfies it"
    ]


def test_pipeline_that_revisits_an_agent_is_a_cycle() -> None:
    text = job(THREE, "topology: {type: pipeline, stages: [alpha, beta, alpha, gamma]}\n")
    assert errors(text) == [
        f"{FILE}:{at(text, '[alpha, beta')}: topology.stages: the topology has a cycle: "
        "alpha -> beta -> alpha; no start order satisfies it"
    ]


def test_mesh_edges_are_not_cycles() -> None:
    assert load(job(THREE, "topology: {type: mesh, agents: [alpha, beta, gamma]}\n"))


# --- ports and targets ---------------------------------------------------------------


def test_localhost_port_clash_names_both_agents() -> None:
    text = job(
        "- {id: a, command: x, config: {port: 9000}}\n"
        "- {id: b, command: x, config: {port: 9000}}\n",
        "topology: {type: mesh}\n",
    )
    assert errors(text) == [
        f"{FILE}:{at(text, '9000', 2)}: agents[1].config.port: port 9000 on this machine is also "
        "used by agent 'a' (agents[0]); give each agent its own port"
    ]


def test_same_remote_host_clashes_other_hosts_do_not() -> None:
    agents = """\
    - {id: a, command: x, config: {port: 9000}, deployment: {target: remote, host: box1}}
    - {id: b, command: x, config: {port: 9000}, deployment: {target: remote, host: box2}}
    - {id: c, command: x, config: {port: 9000}, deployment: {target: remote, host: box1}}
    - {id: d, command: x, config: {port: 9000}}
    """
    text = job(agents, "topology: {type: mesh}\n")
    assert errors(text) == [
        f"{FILE}:{at(text, '9000', 3)}: agents[2].config.port: port 9000 on host 'box1' is also "
        "used by agent 'a' (agents[0]); give each agent its own port"
    ]


def test_containers_clash_only_on_pinned_host_ports() -> None:
    agents = """\
    - {id: a, command: x, config: {port: 9000}, deployment: {target: container, image: i}}
    - {id: b, command: x, config: {port: 9000}, deployment: {target: container, image: i}}
    - {id: c, command: x, config: {port: 9001}, deployment: {target: container, image: i, host_port: 9100}}
    - {id: d, command: x, config: {port: 9002}, deployment: {target: container, image: i, host_port: 9100}}
    - {id: e, command: x, config: {port: 9100}}
    """  # noqa: E501
    text = job(agents, "topology: {type: mesh}\n")
    assert errors(text) == [
        f"{FILE}:{at(text, '9100', 2)}: agents[3].deployment.host_port: port 9100 on this machine "
        "is also used by agent 'c' (agents[2]); give each agent its own port",
        f"{FILE}:{at(text, '9100', 3)}: agents[4].config.port: port 9100 on this machine "
        "is also used by agent 'c' (agents[2]); give each agent its own port",
    ]


def test_remote_needs_host_and_container_needs_image() -> None:
    agents = """\
    - {id: a, command: x, config: {port: 1}, deployment: {target: remote, user: me}}
    - {id: b, command: x, config: {port: 2}, deployment: {target: container}}
    """
    text = job(agents, "topology: {type: mesh}\n")
    assert errors(text) == [
        f"{FILE}:{at(text, '{target: remote')}: agents[0].deployment: a remote agent needs "
        "'host' (an SSH host or alias)",
        f"{FILE}:{at(text, '{target: container')}: agents[1].deployment: a container agent "
        "needs 'image'",
    ]


def test_several_checks_reported_together_in_file_order() -> None:
    text = job(
        """\
        - {id: a, config: {port: 9000}}
        - {id: b, command: x, config: {port: 9000}, deployment: {target: remote}}
        - {id: c, command: x, config: {port: 9000}}
        - {id: lonely, command: x, config: {port: 9001}}
        """,
        "topology:\n  type: dag\n  connections:\n    - {from: a, to: [b, cc]}\n"
        "    - {from: b, to: c}\n    - {from: c, to: a}\n",
    )
    assert errors(text) == [
        f"{FILE}:3:3: agents[0]: needs 'module' (run as python -m MODULE) or 'command' "
        "(a command line)",
        f"{FILE}:{at(text, '{target: remote')}: agents[1].deployment: a remote agent needs "
        "'host' (an SSH host or alias)",
        f"{FILE}:{at(text, '9000', 3)}: agents[2].config.port: port 9000 on this machine is "
        "also used by agent 'a' (agents[0]); give each agent its own port",
        f"{FILE}:{at(text, 'lonely')}: agents[3].id: agent 'lonely' is not part of the dag "
        "topology; add it there or remove the agent",
        f"{FILE}:{at(text, '- {from: a')}: topology.connections: the topology has a cycle: "
        "a -> b -> c -> a; no start order satisfies it",
        f"{FILE}:{at(text, 'cc]')}: topology.connections[0].to[1]: no agent has id 'cc'; "
        "did you mean 'c'?",
    ]


# --- modules -------------------------------------------------------------------------


def module_job(module: str, type_name: str | None = "Agent", extra: str = "") -> str:
    type_line = f"    type: {type_name}\n" if type_name else ""
    return (
        "job: {name: j}\nagents:\n  - id: a\n"
        f"{type_line}    module: {module}\n    config: {{port: 8001}}\n{extra}"
        "topology: {type: dynamic}\n"
    )


def test_module_found_next_to_the_job_file(tmp_path: Path) -> None:
    (tmp_path / "my_agent_mod_x1.py").write_text("class Agent:\n    pass\n")
    assert load(module_job("my_agent_mod_x1"), tmp_path, import_check=True)


def test_module_not_found(tmp_path: Path) -> None:
    text = module_job("no_such_agent_module_q7")
    assert errors(text, tmp_path, import_check=True) == [
        f"{FILE}:{at(text, 'no_such')}: agents[0].module: module 'no_such_agent_module_q7' "
        "cannot be found (looked in the job file's directory, the current directory and the "
        "Python path)"
    ]


def test_submodule_not_found_names_the_package(tmp_path: Path) -> None:
    package = tmp_path / "pkg_agents_q7"
    package.mkdir()
    (package / "__init__.py").write_text("")
    text = module_job("pkg_agents_q7.missing")
    assert errors(text, tmp_path, import_check=True) == [
        f"{FILE}:{at(text, 'pkg_agents_q7')}: agents[0].module: module 'pkg_agents_q7.missing' "
        "cannot be found inside package 'pkg_agents_q7' (looked in the job file's directory, "
        "the current directory and the Python path)"
    ]


def test_module_without_the_type_class(tmp_path: Path) -> None:
    path = tmp_path / "typeless_agent_q7.py"
    path.write_text("class Other:\n    pass\n")
    text = module_job("typeless_agent_q7")
    assert errors(text, tmp_path, import_check=True) == [
        f"{FILE}:{at(text, 'Agent')}: agents[0].type: module defines no class 'Agent' ({path})"
    ]


def test_the_module_is_not_executed(tmp_path: Path) -> None:
    witness = tmp_path / "ran.txt"
    (tmp_path / "side_effect_agent_q7.py").write_text(
        f"open({str(witness)!r}, 'w').write('ran')\n"
        "raise SystemExit('imported!')\n"
        "class Agent:\n    pass\n"
    )
    assert load(module_job("side_effect_agent_q7"), tmp_path, import_check=True)
    assert not witness.exists()
    (tmp_path / "side_effect_other_q7.py").write_text(
        f"open({str(witness)!r}, 'w').write('ran')\nraise RuntimeError('imported!')\n"
    )
    text = module_job("side_effect_other_q7")
    (line,) = errors(text, tmp_path, import_check=True)
    assert "module defines no class 'Agent'" in line
    assert not witness.exists()


def test_package_module_needs_main_and_may_define_type_in_init_or_main(tmp_path: Path) -> None:
    package = tmp_path / "pkg_agent_q8"
    package.mkdir()
    (package / "__init__.py").write_text("")
    text = module_job("pkg_agent_q8")
    (line,) = errors(text, tmp_path, import_check=True)
    assert line.endswith(
        "agents[0].module: package 'pkg_agent_q8' has no __main__.py, so "
        "`python -m pkg_agent_q8` cannot run it"
    )
    (package / "__main__.py").write_text("from pkg_agent_q8.impl import Agent\n")
    assert load(text, tmp_path, import_check=True)


def test_type_may_be_imported_or_assigned(tmp_path: Path) -> None:
    (tmp_path / "reexport_agent_q7.py").write_text(
        "try:\n    from fast import Agent\nexcept ImportError:\n    Agent = object\n"
    )
    assert load(module_job("reexport_agent_q7"), tmp_path, import_check=True)


def test_module_without_type_is_only_looked_up(tmp_path: Path) -> None:
    (tmp_path / "untyped_agent_q7.py").write_text("raise SystemExit\n")
    assert load(module_job("untyped_agent_q7", type_name=None), tmp_path, import_check=True)


def test_module_found_in_the_agents_workdir(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "workdir_agent_q7.py").write_text("class Agent: ...\n")
    extra = "    deployment: {workdir: src}\n"
    assert load(module_job("workdir_agent_q7", extra=extra), tmp_path, import_check=True)


def test_module_that_is_not_a_name(tmp_path: Path) -> None:
    text = module_job("'agents/weather.py'")
    assert errors(text, tmp_path, import_check=True) == [
        f"{FILE}:{at(text, chr(39) + 'agents')}: agents[0].module: 'agents/weather.py' is not "
        "a Python module name (like 'agents.weather')"
    ]


def test_remote_and_container_modules_are_not_looked_up(tmp_path: Path) -> None:
    extra = "    deployment: {target: remote, host: box}\n"
    assert load(module_job("not_here_q7", extra=extra), tmp_path, import_check=True)
    extra = "    deployment: {target: container, image: img}\n"
    assert load(module_job("not_here_q7", extra=extra), tmp_path, import_check=True)


def test_skip_import_check(tmp_path: Path) -> None:
    path = tmp_path / "job.yaml"
    path.write_text(module_job("no_such_agent_module_q7"))
    with pytest.raises(JobFileError):
        load_job(path)
    assert load_job(path, import_check=False).definition.agents[0].module == (
        "no_such_agent_module_q7"
    )


def test_an_exec_health_check_is_refused_for_swarm_agents_only() -> None:
    text = job(
        """\
        - id: s
          command: [x]
          config: {port: 8001}
          deployment: {target: swarm, image: i}
          health_check: {type: exec, command: [check]}
        - id: c
          command: [x]
          config: {port: 8002}
          deployment: {target: container, image: i}
          health_check: {type: exec, command: [check]}
        """,
        "topology: {type: dynamic}\n",
    )
    assert errors(text) == [
        f"{FILE}:{at(text, 'exec, command: [check]}')}: agents[0].health_check.type: agent 's' "
        "runs on swarm, where agentsup cannot run a command for an exec health check; use "
        "http, tcp or log"
    ]


def test_connected_container_agents_must_share_a_network() -> None:
    text = job(
        """\
        - {id: a, command: x, config: {port: 1}, deployment: {target: container, image: i}}
        - {id: b, command: x, config: {port: 2},
           deployment: {target: container, image: i, network: theirs}}
        - {id: c, command: x, config: {port: 3}, deployment: {target: container, image: i}}
        """,
        "topology: {type: pipeline, stages: [a, b, c]}\n",
    )
    message = ("container agent {} connects to {}, but they are on different Docker networks "
               "({} and {}), and a peer's id resolves only on its own network; put both on one "
               "network")
    assert [line.split(": ", 2)[2] for line in errors(text)] == [
        message.format("'a'", "'b'", "'agentsup-j'", "'theirs'"),
        message.format("'b'", "'c'", "'theirs'", "'agentsup-j'"),
    ]
