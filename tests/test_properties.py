"""Property tests: the ordering rule holds for random DAGs, no input, however mangled,
makes the loader raise anything but `JobFileError`, and with `<<` merges the data is
PyYAML's and every position is where the value kept was written."""

from __future__ import annotations

import itertools
import re
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentsup.job.loader import LoadedJob, load_text
from agentsup.job.models import JobDefinition
from agentsup.job.problems import JobFileError
from agentsup.job.validation import validate_job
from agentsup.job.yamlpos import parse
from agentsup.plan import TopologyResolver

FAST = settings(
    max_examples=100,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
LOCATED = re.compile(r"^job\.yaml:\d+:\d+: \S.*: .+$")

ids = st.from_regex(r"[a-z][a-z0-9_-]{0,6}", fullmatch=True)


@st.composite
def random_dags(draw: st.DrawFn) -> tuple[list[str], list[tuple[str, list[str] | str]]]:
    """Agent ids in a random order and acyclic connections `(from, to)` over them."""
    names = draw(st.lists(ids, min_size=1, max_size=10, unique=True))
    # Edges only go from earlier to later in a hidden random order: always acyclic.
    hidden = draw(st.permutations(names))
    connections: list[tuple[str, list[str] | str]] = []
    for i, caller in enumerate(hidden):
        callees = [c for c in hidden[i + 1 :] if draw(st.booleans())]
        callees = draw(st.permutations(callees))
        if not callees:
            continue
        if len(callees) == 1 and draw(st.booleans()):
            connections.append((caller, callees[0]))
        else:
            connections.append((caller, list(callees)))
    return names, draw(st.permutations(connections))


def dag_job(
    names: list[str], connections: list[tuple[str, list[str] | str]], strategy: str
) -> JobDefinition:
    return validate_job(
        {
            "job": {"name": "prop"},
            "agents": [
                {"id": name, "command": ["x"], "config": {"port": 10000 + i}}
                for i, name in enumerate(names)
            ],
            "topology": {
                "type": "dag",
                "connections": [{"from": f, "to": t} for f, t in connections],
            },
            "deployment": {"strategy": strategy},
        }
    )


@FAST
@given(random_dags(), st.sampled_from(["staged", "sequential", "parallel", "top-down"]))
def test_random_dags_follow_the_ordering_rule(
    dag: tuple[list[str], list[tuple[str, list[str] | str]]], strategy: str
) -> None:
    names, connections = dag
    plan = TopologyResolver().resolve(dag_job(names, connections, strategy))

    placed = [agent for stage in plan.stages for agent in stage]
    assert sorted(placed) == sorted(names), "every agent exactly once"
    assert all(plan.stages), "no empty stages"

    expected_peers: dict[str, list[str]] = {name: [] for name in names}
    for caller, to in connections:
        for callee in [to] if isinstance(to, str) else to:
            if callee not in expected_peers[caller]:
                expected_peers[caller].append(callee)
    assert {a: list(p) for a, p in plan.peers.items()} == expected_peers
    for agent, peers in plan.peers.items():
        assert list(plan.connections[agent]) == [plan.agent_urls[p] for p in peers]

    stage_of = {agent: plan.stage_of(agent) for agent in names}
    for agent, peers in plan.peers.items():
        for peer in peers:
            if strategy in ("staged", "sequential"):
                assert stage_of[peer] < stage_of[agent], "callees start in earlier stages"
            elif strategy == "top-down":
                assert stage_of[peer] > stage_of[agent], "callers start first"
    if strategy == "parallel":
        assert len(plan.stages) == 1
    if strategy == "sequential":
        assert all(len(stage) == 1 for stage in plan.stages)
    if strategy == "staged":
        # Generations: nothing starts later than it has to.
        for agent, peers in plan.peers.items():
            if stage_of[agent] > 0:
                assert any(stage_of[p] == stage_of[agent] - 1 for p in peers)
            else:
                assert not peers


@FAST
@given(random_dags(), st.data())
def test_a_back_edge_is_reported_as_a_real_cycle(
    dag: tuple[list[str], list[tuple[str, list[str] | str]]], data: st.DataObject
) -> None:
    names, connections = dag
    edges = [(f, t) for f, to in connections for t in ([to] if isinstance(to, str) else to)]
    if not edges:
        return
    caller, callee = data.draw(st.sampled_from(edges))
    back = [*connections, (callee, caller)]
    text = yaml.safe_dump(
        {
            "job": {"name": "prop"},
            "agents": [
                {"id": name, "command": "x", "config": {"port": 10000 + i}}
                for i, name in enumerate(names)
            ],
            "topology": {"type": "dag", "connections": [{"from": f, "to": t} for f, t in back]},
        },
        sort_keys=False,
    )
    try:
        load_text(text, "job.yaml", base_dir=Path("."), import_check=False)
    except JobFileError as exc:
        cycles = [p.message for p in exc.problems if "has a cycle" in p.message]
    else:
        raise AssertionError("a cycle was accepted")
    assert len(cycles) == 1
    path = cycles[0].split("has a cycle: ", 1)[1].split(";", 1)[0].split(" -> ")
    all_edges = {*edges, (callee, caller)}
    assert path[0] == path[-1] and len(path) >= 3
    assert all((a, b) in all_edges for a, b in itertools.pairwise(path))


# --- mangled input -------------------------------------------------------------------

VALID = """\
job:
  name: demo
  version: "1"
agents:
  - id: controller
    type: EchoAgent
    command: [serve, --port, "8101"]
    config: {port: 8101, model: small}
    health_check: {path: /health, interval: 0.5}
    deployment:
      target: remote
      host: gpu
      environment: {A: 1, B: true}
  - id: weather
    command: serve
    config:
      port: 8102
    deployment: {target: container, image: "img:1", host_port: 18102}
topology:
  type: hub-spoke
  hub: controller
  spokes: [weather]
deployment:
  strategy: staged
  timeout: 30
  health_check: {retries: 3}
environment:
  X: y
"""


def check_never_crashes(text: str) -> None:
    try:
        loaded = load_text(text, "job.yaml", base_dir=Path("."), import_check=False)
    except JobFileError as exc:
        assert exc.problems, "an error always says what is wrong"
        for line in exc.render().splitlines():
            assert LOCATED.match(line), line
        lines = [(p.line, p.column) for p in exc.problems]
        assert lines == sorted(lines), "problems come in file order"
        assert all(line >= 1 and column >= 1 for line, column in lines)
    else:
        assert isinstance(loaded, LoadedJob)
        TopologyResolver().resolve(loaded.definition)


def test_the_valid_job_is_valid() -> None:
    check_never_crashes(VALID)
    load_text(VALID, "job.yaml", base_dir=Path("."), import_check=False)


@FAST
@given(st.text(max_size=200))
def test_random_text(text: str) -> None:
    check_never_crashes(text)


@FAST
@given(st.text(alphabet=":-[]{}&*!|>'\"#%@`,?~ \n\tabc01", max_size=120))
def test_random_yaml_punctuation(text: str) -> None:
    check_never_crashes(text)


@st.composite
def mutations(draw: st.DrawFn) -> str:
    text = VALID
    for _ in range(draw(st.integers(1, 4))):
        position = draw(st.integers(0, len(text)))
        match draw(st.sampled_from(["delete", "insert", "replace", "truncate", "duplicate"])):
            case "delete":
                text = text[:position] + text[position + draw(st.integers(1, 20)) :]
            case "insert":
                text = (
                    text[:position] + draw(st.text(":-[]{} \n\tx0&*", max_size=5)) + text[position:]
                )
            case "replace":
                text = text[:position] + draw(st.characters()) + text[position + 1 :]
            case "truncate":
                text = text[:position]
            case _:
                lines = text.splitlines(keepends=True)
                if lines:
                    index = draw(st.integers(0, len(lines) - 1))
                    lines.insert(index, lines[index])
                    text = "".join(lines)
    return text


@FAST
@given(mutations())
def test_mutated_job_files(text: str) -> None:
    check_never_crashes(text)


KEYS = [
    "job",
    "name",
    "agents",
    "id",
    "type",
    "module",
    "command",
    "config",
    "port",
    "topology",
    "hub",
    "spokes",
    "stages",
    "connections",
    "from",
    "to",
    "levels",
    "root",
    "parent",
    "children",
    "deployment",
    "target",
    "host",
    "image",
    "host_port",
    "environment",
    "strategy",
    "health_check",
    "interval",
    "resources",
    "memory",
    "x-extra",
    "execution",
]
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-10, 70000),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(
        [
            "hub-spoke",
            "dag",
            "mesh",
            "hierarchical",
            "pipeline",
            "dynamic",
            "remote",
            "container",
            "a",
            "b",
            "",
            "512M",
            "/health",
            "top-down",
        ]
    ),
    st.text(max_size=8),
)
nested: st.SearchStrategy[Any] = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.sampled_from(KEYS), children, max_size=5),
    ),
    max_leaves=25,
)


@FAST
@given(st.dictionaries(st.sampled_from(KEYS), nested, max_size=6))
def test_random_nested_data(data: dict[str, Any]) -> None:
    check_never_crashes(yaml.safe_dump(data))


@st.composite
def near_valid(draw: st.DrawFn) -> dict[str, Any]:
    """A structurally plausible job with random values: reaches the whole-job checks."""
    names = draw(st.lists(st.sampled_from(["a", "b", "c", "d"]), min_size=1, max_size=4))
    agents = [
        {
            "id": name,
            draw(st.sampled_from(["command", "module"])): draw(st.sampled_from(["x", "m.n"])),
            "config": {"port": draw(st.sampled_from([1, 2, 2, 0]))},
            "deployment": {
                "target": draw(st.sampled_from(["localhost", "remote", "container"])),
                **draw(
                    st.fixed_dictionaries(
                        {},
                        optional={
                            "host": st.just("h"),
                            "image": st.just("i"),
                            "host_port": st.sampled_from([5, 6]),
                        },
                    )
                ),
            },
        }
        for name in names
    ]
    kind = draw(
        st.sampled_from(["hub-spoke", "pipeline", "dag", "mesh", "hierarchical", "dynamic"])
    )
    pick = st.sampled_from(["a", "b", "c", "d", "e"])
    id_or_list = st.one_of(pick, st.lists(pick, max_size=3))
    topology: dict[str, Any] = {"type": kind}
    if kind == "hub-spoke":
        topology |= {"hub": draw(pick), "spokes": draw(id_or_list)}
    elif kind == "pipeline":
        topology["stages"] = draw(st.lists(id_or_list, max_size=4))
    elif kind == "dag":
        topology["connections"] = draw(
            st.lists(st.fixed_dictionaries({"from": pick, "to": id_or_list}), max_size=5)
        )
    elif kind == "mesh" and draw(st.booleans()):
        topology["agents"] = draw(st.lists(pick, max_size=4))
    elif kind == "hierarchical":
        group = st.fixed_dictionaries({"parent": pick, "children": id_or_list})
        topology["levels"] = draw(
            st.lists(st.one_of(st.lists(pick, max_size=3), group), max_size=4)
        )
        if draw(st.booleans()):
            topology["root"] = draw(pick)
    strategy = draw(st.sampled_from(["staged", "sequential", "parallel", "top-down"]))
    return {
        "job": {"name": "n"},
        "agents": agents,
        "topology": topology,
        "deployment": {"strategy": strategy},
    }


@FAST
@given(near_valid())
def test_near_valid_jobs(data: dict[str, Any]) -> None:
    check_never_crashes(yaml.safe_dump(data, sort_keys=False))


MERGE_KEYS = ["k", "j", "m"]


@st.composite
def merged_documents(draw: st.DrawFn) -> str:
    """Anchored mappings that merge earlier ones, then mappings that merge and override.

    Every scalar is a distinct token (`v0`, `v1`, ...), so the text at a recorded position
    tells which written value it is.
    """
    tokens = itertools.count()

    def mapping(depth: int) -> str:
        keys = draw(st.lists(st.sampled_from(MERGE_KEYS), max_size=3, unique=True))
        parts = [merge(depth)] if anchors and draw(st.booleans()) else []
        for key in keys:
            nested = depth < 1 and draw(st.booleans())
            parts.append(f"{key}: {mapping(depth + 1) if nested else f'v{next(tokens)}'}")
        return "{" + ", ".join(parts) + "}"

    def merge(depth: int) -> str:
        chosen = draw(st.lists(st.sampled_from(anchors), min_size=1, max_size=3))
        if len(chosen) == 1 and draw(st.booleans()):
            return f"<<: *{chosen[0]}"
        if depth < 1 and draw(st.booleans()):
            return f"<<: {mapping(depth + 1)}"
        return "<<: [" + ", ".join(f"*{name}" for name in chosen) + "]"

    anchors: list[str] = []
    lines = []
    for index in range(draw(st.integers(1, 4))):
        lines.append(f"a{index}: &a{index} {mapping(0)}")
        anchors.append(f"a{index}")
    for index in range(draw(st.integers(1, 3))):
        # Block style, one key a line, so that lines as well as columns are checked.
        lines.append(f"t{index}:")
        lines.append(f"  {merge(0)}")
        for key in draw(st.lists(st.sampled_from(MERGE_KEYS), max_size=3, unique=True)):
            lines.append(f"  {key}: {mapping(1) if draw(st.booleans()) else f'v{next(tokens)}'}")
    return "\n".join(lines) + "\n"


def _paths(value: Any, path: tuple[Any, ...] = ()) -> dict[tuple[Any, ...], Any]:
    found = {path: value}
    if isinstance(value, dict):
        for key, item in value.items():
            found |= _paths(item, (*path, key))
    return found


def _ordered(value: Any) -> Any:
    if isinstance(value, dict):
        return [(key, _ordered(item)) for key, item in value.items()]
    return value


@FAST
@given(merged_documents())
def test_merged_values_are_located_where_the_winning_value_is_written(text: str) -> None:
    parsed = parse(text)
    assert parsed.problems == []
    assert _ordered(parsed.data) == _ordered(yaml.safe_load(text)), "the data PyYAML builds"
    lines = text.splitlines()
    paths = _paths(parsed.data)
    # A position for every value the data holds, and none for values that lost.
    assert set(parsed.positions.values) == set(paths)
    for path, value in paths.items():
        if isinstance(value, str):
            mark = parsed.positions.values[path]
            written = re.match(r"v\d+", lines[mark.line - 1][mark.column - 1 :])
            assert written and written.group() == value, path
        if path:
            mark = parsed.positions.keys[path]
            assert lines[mark.line - 1][mark.column - 1 :].startswith(f"{path[-1]}:"), path
