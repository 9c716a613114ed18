"""The topology resolver: stages, URLs and connections for every topology and strategy,
following the ordering rule: an agent starts only after every agent it connects to is
ready, and within a stage agents keep the order in which the topology names them."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import msgspec
import pytest

from agentsup.cli import PLAN_FORMATS
from agentsup.job.loader import load_text
from agentsup.job.models import JobDefinition
from agentsup.plan import (
    EVERY_ADDRESS,
    PUBLISHED_ADDRESS,
    DeploymentPlan,
    HostNameLookup,
    TopologyResolver,
)
from agentsup.render import RENDERERS, as_dot, as_json, as_mermaid, as_text
from agentsup.sshconfig import HostNames, host_name_resolver


def definition(
    agents: list[str] | str, topology: str, strategy: str | None = None
) -> JobDefinition:
    """A job whose agents run `command: x`; `agents` is ids (ports 9001...) or YAML."""
    if isinstance(agents, list):
        agents = "".join(
            f"- {{id: {a}, command: x, config: {{port: {9001 + i}}}}}\n"
            for i, a in enumerate(agents)
        )
    text = "job: {name: plan-test}\nagents:\n" + textwrap.dedent(agents)
    text += "topology:\n" + textwrap.indent(textwrap.dedent(topology), "  ")
    if strategy is not None:
        text += f"deployment: {{strategy: {strategy}}}\n"
    return load_text(text, "job.yaml", base_dir=Path("."), import_check=False).definition


def resolve(
    agents: list[str] | str,
    topology: str,
    strategy: str | None = None,
    host_names: HostNameLookup | None = None,
) -> DeploymentPlan:
    resolver = TopologyResolver(host_names) if host_names else TopologyResolver()
    return resolver.resolve(definition(agents, topology, strategy))


def stages(plan: DeploymentPlan) -> list[list[str]]:
    return [list(stage) for stage in plan.stages]


def peers(plan: DeploymentPlan) -> dict[str, list[str]]:
    return {agent: list(ids) for agent, ids in plan.peers.items()}


def url(port: int) -> str:
    return f"http://localhost:{port}"


HUB_SPOKE = "type: hub-spoke\nhub: controller\nspokes: [weather, maps]\n"
ARCH_DAG = """\
type: dag
connections:
  - {from: ingest, to: [processor1, processor2]}
  - {from: processor1, to: output}
  - {from: processor2, to: output}
"""


# --- the two worked examples ---------------------------------------------------------


def test_worked_example_hub_spoke() -> None:
    plan = resolve(["controller", "weather", "maps"], HUB_SPOKE)
    assert stages(plan) == [["weather", "maps"], ["controller"]]
    assert dict(plan.agent_urls) == {
        "controller": url(9001),
        "weather": url(9002),
        "maps": url(9003),
    }
    assert {k: list(v) for k, v in plan.connections.items()} == {
        "controller": [url(9002), url(9003)],
        "weather": [],
        "maps": [],
    }
    assert plan.connection_map("controller") == {"weather": url(9002), "maps": url(9003)}
    assert plan.connection_map("weather") == {}


def test_worked_example_dag() -> None:
    plan = resolve(["ingest", "processor1", "processor2", "output"], ARCH_DAG)
    assert stages(plan) == [["output"], ["processor1", "processor2"], ["ingest"]]
    assert peers(plan) == {
        "ingest": ["processor1", "processor2"],
        "processor1": ["output"],
        "processor2": ["output"],
        "output": [],
    }
    assert list(plan.connections["ingest"]) == [url(9002), url(9003)]
    assert [plan.stage_of(a) for a in ("output", "processor1", "processor2", "ingest")] == [
        0,
        1,
        1,
        2,
    ]


# --- every topology ------------------------------------------------------------------


def test_pipeline_with_ids_and_lists_as_stages() -> None:
    plan = resolve(
        ["fetch", "clean-a", "clean-b", "summary"],
        "type: pipeline\nstages: [fetch, [clean-a, clean-b], summary]\n",
    )
    assert stages(plan) == [["summary"], ["clean-a", "clean-b"], ["fetch"]]
    assert peers(plan) == {
        "fetch": ["clean-a", "clean-b"],
        "clean-a": ["summary"],
        "clean-b": ["summary"],
        "summary": [],
    }


def test_pipeline_list_to_list_connects_every_pair() -> None:
    plan = resolve(["a", "b", "c", "d"], "type: pipeline\nstages: [[a, b], [c, d]]\n")
    assert stages(plan) == [["c", "d"], ["a", "b"]]
    assert peers(plan) == {"a": ["c", "d"], "b": ["c", "d"], "c": [], "d": []}


def test_dag_with_to_as_an_id_and_as_a_list() -> None:
    plan = resolve(
        ["a", "b", "c", "d"],
        "type: dag\nconnections:\n  - {from: a, to: b}\n  - {from: a, to: [c, d]}\n"
        "  - {from: c, to: d, type: http}\n",
    )
    assert stages(plan) == [["b", "d"], ["c"], ["a"]]
    assert peers(plan) == {"a": ["b", "c", "d"], "b": [], "c": ["d"], "d": []}


def test_dag_generations_wait_for_the_longest_path() -> None:
    plan = resolve(
        ["a", "b", "c"],
        "type: dag\nconnections:\n  - {from: a, to: [b, c]}\n  - {from: b, to: c}\n",
    )
    assert stages(plan) == [["c"], ["b"], ["a"]]


def test_mesh_without_agents_is_every_agent() -> None:
    plan = resolve(["x", "y", "z"], "type: mesh\n")
    assert stages(plan) == [["x", "y", "z"]]
    assert peers(plan) == {"x": ["y", "z"], "y": ["x", "z"], "z": ["x", "y"]}


def test_mesh_with_agents_keeps_the_topology_order() -> None:
    plan = resolve(["x", "y", "z"], "type: mesh\nagents: [z, x, y]\n")
    assert stages(plan) == [["z", "x", "y"]]
    assert peers(plan) == {"z": ["x", "y"], "x": ["z", "y"], "y": ["z", "x"]}


HIERARCHY_AGENTS = ["root", "m1", "m2", "l1", "l2"]
HIERARCHY_STAGES = [["l1", "l2"], ["m1", "m2"], ["root"]]
HIERARCHY_PEERS = {
    "root": ["m1", "m2"],
    "m1": ["l1", "l2"],
    "m2": ["l1", "l2"],
    "l1": [],
    "l2": [],
}


@pytest.mark.parametrize(
    "topology",
    [
        "type: hierarchical\nroot: root\nlevels: [[m1, m2], [l1, l2]]\n",
        "type: hierarchical\nroot: root\nlevels: [[root], [m1, m2], [l1, l2]]\n",
        "type: hierarchical\nroot: root\nlevels: [root, [m1, m2], [l1, l2]]\n",
        "type: hierarchical\nlevels: [[root], [m1, m2], [l1, l2]]\n",
    ],
    ids=["root-apart", "root-repeated", "root-as-id", "no-root"],
)
def test_hierarchical_levels_as_lists(topology: str) -> None:
    plan = resolve(HIERARCHY_AGENTS, topology)
    assert stages(plan) == HIERARCHY_STAGES
    assert peers(plan) == HIERARCHY_PEERS


def test_hierarchical_levels_as_parent_children_maps() -> None:
    plan = resolve(
        ["root", "m1", "m2", "l1", "l2", "l3"],
        """\
        type: hierarchical
        root: root
        levels:
          - {parent: root, children: [m1, m2]}
          - {parent: m1, children: [l1, l2]}
          - {parent: m2, children: l3}
        """,
    )
    assert stages(plan) == [["l1", "l2", "l3"], ["m1", "m2"], ["root"]]
    assert peers(plan) == {
        "root": ["m1", "m2"],
        "m1": ["l1", "l2"],
        "m2": ["l3"],
        "l1": [],
        "l2": [],
        "l3": [],
    }


def test_hierarchical_uneven_depth_starts_each_parent_after_its_children() -> None:
    plan = resolve(
        ["root", "a", "b", "a1"],
        "type: hierarchical\nlevels:\n  - {parent: root, children: [a, b]}\n"
        "  - {parent: a, children: [a1]}\n",
    )
    assert stages(plan) == [["b", "a1"], ["a"], ["root"]]


def test_dynamic_has_no_connections_and_one_stage() -> None:
    plan = resolve(["p", "q", "r"], "type: dynamic\n")
    assert stages(plan) == [["p", "q", "r"]]
    assert peers(plan) == {"p": [], "q": [], "r": []}
    assert {k: list(v) for k, v in plan.connections.items()} == {"p": [], "q": [], "r": []}


def test_within_a_stage_agents_keep_the_topology_order_not_the_file_order() -> None:
    plan = resolve(
        ["output", "processor2", "ingest", "processor1"],
        "type: dag\nconnections:\n  - {from: ingest, to: [processor1, processor2]}\n"
        "  - {from: processor2, to: output}\n  - {from: processor1, to: output}\n",
    )
    assert stages(plan) == [["output"], ["processor1", "processor2"], ["ingest"]]
    spokes_first = resolve(["controller", "maps", "weather"], HUB_SPOKE)
    assert stages(spokes_first) == [["weather", "maps"], ["controller"]]


# --- every strategy ------------------------------------------------------------------

DAG_AGENTS = ["ingest", "processor1", "processor2", "output"]


@pytest.mark.parametrize(
    ("strategy", "hub_spoke", "dag"),
    [
        (
            "staged",
            [["weather", "maps"], ["controller"]],
            [["output"], ["processor1", "processor2"], ["ingest"]],
        ),
        (
            "sequential",
            [["weather"], ["maps"], ["controller"]],
            [["output"], ["processor1"], ["processor2"], ["ingest"]],
        ),
        (
            "parallel",
            [["controller", "weather", "maps"]],
            [["ingest", "processor1", "processor2", "output"]],
        ),
        (
            "top-down",
            [["controller"], ["weather", "maps"]],
            [["ingest"], ["processor1", "processor2"], ["output"]],
        ),
    ],
)
def test_strategies(strategy: str, hub_spoke: list[list[str]], dag: list[list[str]]) -> None:
    plan = resolve(["controller", "weather", "maps"], HUB_SPOKE, strategy)
    assert plan.strategy.value == strategy
    assert stages(plan) == hub_spoke
    # The strategy changes the start order, never who connects to whom.
    assert peers(plan)["controller"] == ["weather", "maps"]
    assert stages(resolve(DAG_AGENTS, ARCH_DAG, strategy)) == dag


@pytest.mark.parametrize("strategy", ["staged", "sequential", "parallel", "top-down"])
def test_strategies_on_unordered_topologies(strategy: str) -> None:
    plan = resolve(["x", "y", "z"], "type: mesh\nagents: [y, z, x]\n", strategy)
    expected = [["y"], ["z"], ["x"]] if strategy == "sequential" else [["y", "z", "x"]]
    assert stages(plan) == expected


# --- URLs ----------------------------------------------------------------------------

SSH_CONFIG = """\
# a comment
Include {include}
Host gpu gpu-backup
    HostName gpu.example.net
    User me
Host *.lan !printer.lan
\tHostName %h.example.org
Host printer.lan
    HostName=10.0.0.9
Match originalhost other
    HostName matched.example
Host direct
    HostName = 192.0.2.7
"""
INCLUDED = """\
Host gpu-1
    HostName 10.20.0.11
Match user ops host staging
    HostName staging.ops.example
"""


def ssh_config(tmp_path: Path) -> Path:
    """An OpenSSH client configuration with an `Include` of a directory of files."""
    (tmp_path / "config.d").mkdir()
    (tmp_path / "config.d" / "gpus").write_text(INCLUDED)
    config = tmp_path / "config"
    # Relative Include paths are relative to ~/.ssh, as in OpenSSH: name it absolutely.
    config.write_text(SSH_CONFIG.replace("{include}", str(tmp_path / "config.d" / "*")))
    return config


def test_ssh_config_host_names(tmp_path: Path) -> None:
    names = HostNames([ssh_config(tmp_path)])
    assert names("gpu") == "gpu.example.net"
    assert names("gpu-backup") == "gpu.example.net"
    assert names("box.lan") == "box.lan.example.org"
    assert names("printer.lan") == "10.0.0.9"
    assert names("direct") == "192.0.2.7"
    assert names("other") == "matched.example"  # Match blocks are evaluated
    assert names("gpu-1") == "10.20.0.11"  # and Include directives followed
    assert names("staging") == "staging"
    assert names("staging", user="ops") == "staging.ops.example"  # Match user, as connecting
    assert names("unknown") == "unknown"


def test_ssh_config_first_match_wins(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.write_text("Host a\n  HostName one\nHost a b\n  HostName two\n")
    names = HostNames([config])
    assert (names("a"), names("b"), names("c")) == ("one", "two", "c")


def test_host_name_resolver_reads_a_given_file(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.write_text("Host gpu\n  HostName gpu.example.net\n")
    assert host_name_resolver(config)("gpu") == "gpu.example.net"
    assert host_name_resolver(tmp_path / "missing")("gpu") == "gpu"


def test_a_broken_config_renames_nothing(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.write_text("Host gpu\n  HostName\n")  # HostName without a value
    assert HostNames([config])("gpu") == "gpu"


def test_the_url_host_is_the_host_asyncssh_connects_to(tmp_path: Path) -> None:
    """The same files read by asyncssh's connection options give the same host."""
    import asyncssh

    config = ssh_config(tmp_path)
    names = HostNames([config])
    for alias, user in [("gpu-1", None), ("other", None), ("staging", "ops"), ("x.lan", None)]:
        options = asyncssh.SSHClientConnectionOptions(
            host=alias, config=[str(config)], known_hosts=None, client_keys=None,
            agent_path=None, **({"username": user} if user else {}),
        )
        assert names(alias, user=user) == options.host, alias


MIXED = """\
- {id: front, command: x, config: {port: 8000}}
- {id: far, command: x, config: {port: 8100}, deployment: {target: remote, host: gpu}}
- {id: raw, command: x, config: {port: 8200}, deployment: {target: remote, host: 192.0.2.1}}
- {id: box, command: x, config: {port: 8300}, deployment: {target: container, image: i}}
- {id: pinned, command: x, config: {port: 8400},
   deployment: {target: container, image: i, host_port: 18400}}
"""


def test_urls_for_every_target(tmp_path: Path) -> None:
    names = HostNames([ssh_config(tmp_path)])
    plan = resolve(MIXED, "type: mesh\n", host_names=names)
    assert dict(plan.agent_urls) == {
        "front": "http://localhost:8000",
        "far": "http://gpu.example.net:8100",
        "raw": "http://192.0.2.1:8200",
        # A container is reached where Docker publishes its port: 127.0.0.1, which no
        # hosts file can turn into ::1.
        "box": "http://127.0.0.1:8300",
        "pinned": "http://127.0.0.1:18400",
    }
    connections = {a: plan.connection_map(a) for a in plan.agent_urls}
    # From this machine: the supervisor's URLs.
    assert connections["front"] == {
        "far": "http://gpu.example.net:8100",
        "raw": "http://192.0.2.1:8200",
        "box": "http://127.0.0.1:8300",
        "pinned": "http://127.0.0.1:18400",
    }
    # From a container: peers in Docker by id and container port, this machine through
    # host.docker.internal, remote hosts by name.
    assert connections["box"] == {
        "front": "http://host.docker.internal:8000",
        "far": "http://gpu.example.net:8100",
        "raw": "http://192.0.2.1:8200",
        "pinned": "http://pinned:8400",
    }
    assert connections["pinned"]["box"] == "http://box:8300"
    assert connections["pinned"]["front"] == "http://host.docker.internal:8000"
    assert connections["far"]["raw"] == "http://192.0.2.1:8200"


def test_remote_agents_reach_this_machine_by_its_name_not_localhost() -> None:
    job = definition(MIXED, "type: mesh\n")
    plan = TopologyResolver(local_host="supervisor.lan").resolve(job)
    far = plan.connection_map("far")
    assert far["front"] == "http://supervisor.lan:8000"
    assert far["box"] == "http://supervisor.lan:8300"
    assert far["pinned"] == "http://supervisor.lan:18400"  # the published port


def test_advertise_host_overrides_the_local_host_name() -> None:
    job = definition(MIXED, "type: mesh\n")
    network = msgspec.structs.replace(job.deployment.network, advertise_host="10.9.8.7")
    deployment = msgspec.structs.replace(job.deployment, network=network)
    job = msgspec.structs.replace(job, deployment=deployment)
    plan = TopologyResolver(local_host="supervisor.lan").resolve(job)
    assert plan.connection_map("raw")["front"] == "http://10.9.8.7:8000"
    assert plan.connection_map("front")["raw"] == "http://192.0.2.1:8200"


def test_containers_sharing_a_port_publish_distinct_host_ports() -> None:
    agents = """\
    - {id: local, command: x, config: {port: 7000}}
    - {id: c1, command: x, config: {port: 7000}, deployment: {target: container, image: i}}
    - {id: c2, command: x, config: {port: 7000}, deployment: {target: container, image: i}}
    - {id: pin, command: x, config: {port: 80},
       deployment: {target: container, image: i, host_port: 7002}}
    """
    plan = resolve(agents, "type: mesh\n")
    assert dict(plan.host_ports) == {"c1": 7001, "c2": 7003, "pin": 7002}
    assert plan.agent_urls["c2"] == "http://127.0.0.1:7003"
    assert plan.connection_map("c1")["c2"] == "http://c2:7000"  # inside Docker: its own port


def test_a_container_is_published_on_every_address_only_for_callers_on_other_machines(
) -> None:
    # Callers on this machine and in Docker reach 127.0.0.1 or the Docker network; a
    # remote or swarm caller reaches this machine's name, which 127.0.0.1 does not answer.
    swarm = "- {id: sw, command: x, config: {port: 8500}, deployment: {target: swarm, image: i}}\n"

    def dag(*edges: str) -> str:
        return "type: dag\nconnections:\n" + "".join(f"  - {edge}\n" for edge in edges)

    everyone = ("{from: front, to: [raw, far]}", "{from: sw, to: raw}")
    near = resolve(MIXED + swarm, dag(*everyone, "{from: front, to: [box, pinned]}",
                                      "{from: box, to: pinned}"))
    assert dict(near.published) == {"box": PUBLISHED_ADDRESS, "pinned": PUBLISHED_ADDRESS}
    from_remote = resolve(MIXED + swarm, dag(*everyone, "{from: far, to: box}",
                                             "{from: front, to: pinned}"))
    assert dict(from_remote.published) == {"box": EVERY_ADDRESS, "pinned": PUBLISHED_ADDRESS}
    # The supervisor still checks it where it always does.
    assert from_remote.agent_urls["box"] == "http://127.0.0.1:8300"
    from_swarm = resolve(MIXED + swarm, dag(*everyone, "{from: sw, to: pinned}",
                                            "{from: front, to: box}"))
    assert dict(from_swarm.published) == {"box": PUBLISHED_ADDRESS, "pinned": EVERY_ADDRESS}
    # Being called from afar is what matters, not calling afar.
    outward = resolve(MIXED + swarm, dag(*everyone, "{from: box, to: far}",
                                         "{from: pinned, to: sw}"))
    assert dict(outward.published) == {"box": PUBLISHED_ADDRESS, "pinned": PUBLISHED_ADDRESS}
    assert as_text(from_remote).splitlines()[-1] == (
        "published on 0.0.0.0 of the Docker host, for agents on other machines: box")
    assert "published on" not in as_text(near)


def test_without_a_lookup_aliases_are_used_as_they_are() -> None:
    plan = resolve(MIXED, "type: mesh\n")
    assert plan.agent_urls["far"] == "http://gpu:8100"


# --- the plan object and its renderings ----------------------------------------------


def test_plan_json_has_exactly_the_documented_keys() -> None:
    plan = resolve(["controller", "weather", "maps"], HUB_SPOKE)
    data = json.loads(as_json(plan))
    assert data == plan.to_json()
    assert set(data) == {"job", "strategy", "stages", "agent_urls", "connections"}
    assert data["job"] == "plan-test" and data["strategy"] == "staged"
    assert data["stages"] == [["weather", "maps"], ["controller"]]
    assert data["connections"]["controller"] == [url(9002), url(9003)]


def test_stage_of_unknown_agent() -> None:
    plan = resolve(["a"], "type: dynamic\n")
    with pytest.raises(KeyError):
        plan.stage_of("zzz")


def test_text_rendering_is_a_table() -> None:
    text = as_text(resolve(["controller", "weather", "maps"], HUB_SPOKE))
    lines = text.splitlines()
    assert lines[0] == "job plan-test: 3 agents in 2 stages (strategy staged)"
    assert lines[2].split() == ["stage", "agent", "url", "connects", "to"]
    assert lines[3].split() == ["1", "weather", url(9002), "-"]
    assert lines[5].split() == ["2", "controller", url(9001), f"{url(9002)},", url(9003)]


def test_mermaid_and_dot_renderings() -> None:
    plan = resolve(["in.put", "out-put"], "type: pipeline\nstages: [in.put, out-put]\n")
    mermaid = as_mermaid(plan)
    assert mermaid.splitlines()[0] == "flowchart TB"
    assert '  subgraph stage1["stage 1"]' in mermaid
    assert "  a_in_put --> a_out_put" in mermaid
    dot = as_dot(plan)
    assert dot.startswith('digraph "plan-test" {') and dot.endswith("}")
    assert dot.count("{") == dot.count("}")
    assert "  a_in_put -> a_out_put;" in dot
    assert "subgraph cluster_stage2" in dot
    assert set(RENDERERS) == {"text", "json", "mermaid", "dot"}
    assert sorted(RENDERERS) == list(PLAN_FORMATS)  # the CLI lists them without importing render


def test_each_remote_host_is_looked_up_once_not_once_per_edge() -> None:
    # A peer's URL is worked out once per (caller's target, peer): in this mesh every
    # agent connects to `far` and `raw`, yet each alias is looked up once.
    asked: list[str] = []

    def lookup(alias: str, user: str | None = None, port: int | None = None) -> str:
        asked.append(alias)
        return f"{alias}.example.net"

    job = definition(MIXED, "type: mesh\n")
    plan = TopologyResolver(lookup, local_host="supervisor.lan").resolve(job)
    assert sorted(asked) == ["192.0.2.1", "gpu"]
    assert {plan.connection_map(a)["far"] for a in ("front", "raw", "box", "pinned")} == {
        "http://gpu.example.net:8100"
    }
    assert plan.connection_map("box")["pinned"] == "http://pinned:8400"
    assert plan.connection_map("front")["pinned"] == "http://127.0.0.1:18400"
