"""The real `agentsup` command line, run as a subprocess: validate, plan, schema.

These commands start no agents; they only read job files and print.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
TOPOLOGIES = ["hub-spoke", "pipeline", "dag", "mesh", "hierarchical"]


def command() -> list[str]:
    script = shutil.which("agentsup")
    if script is not None:
        return [script]
    return [sys.executable, "-c", "import sys; from agentsup.cli import main; sys.exit(main())"]


def run(*args: str | Path, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return run_all([[*args]], cwd=cwd)[0]


def run_all(
    commands: list[list[str | Path]], cwd: Path = ROOT
) -> list[subprocess.CompletedProcess[str]]:
    """Run several CLI invocations side by side, a few at a time (no threads).

    All thirty at once on a small, busy machine can keep each one waiting for a CPU
    longer than its timeout.
    """
    width = max(2, os.cpu_count() or 2)
    results: list[subprocess.CompletedProcess[str]] = []
    for first in range(0, len(commands), width):
        started = [
            (
                args,
                subprocess.Popen(
                    [*command(), *map(str, args)],
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                    cwd=cwd,
                ),
            )
            for args in commands[first : first + width]
        ]
        for args, process in started:
            stdout, stderr = process.communicate(timeout=120)
            results.append(subprocess.CompletedProcess(args, process.returncode, stdout, stderr))
    return results


FORMATS = ["text", "json", "mermaid", "dot"]


@pytest.fixture(scope="module")
def example_runs() -> dict[tuple[str, str], subprocess.CompletedProcess[str]]:
    """`validate` and `plan` in every format, for every example, run once."""
    keys: list[tuple[str, str]] = []
    commands: list[list[str | Path]] = []
    for path in EXAMPLES:
        keys.append((path.stem, "validate"))
        commands.append(["validate", path, "--skip-import-check"])
        for form in FORMATS:
            keys.append((path.stem, form))
            commands.append(["plan", path, "--skip-import-check", "--format", form])
    return dict(zip(keys, run_all(commands), strict=True))


def test_there_is_an_example_per_topology() -> None:
    names = {path.stem for path in EXAMPLES}
    assert set(TOPOLOGIES) <= names


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_validate_each_example(
    example: Path, example_runs: dict[tuple[str, str], subprocess.CompletedProcess[str]]
) -> None:
    result = example_runs[(example.stem, "validate")]
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"{example}: valid: job ")
    assert "agents" in lines[0] and "topology" in lines[0]


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_plan_each_example_in_every_format(
    example: Path, example_runs: dict[tuple[str, str], subprocess.CompletedProcess[str]]
) -> None:
    result = example_runs[(example.stem, "json")]
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert set(data) == {"job", "strategy", "stages", "agent_urls", "connections"}
    assert all(isinstance(stage, list) for stage in data["stages"])
    placed = sorted(agent for stage in data["stages"] for agent in stage)
    assert placed == sorted(data["agent_urls"]) == sorted(data["connections"])
    assert all(isinstance(urls, list) for urls in data["connections"].values())

    text = example_runs[(example.stem, "text")]
    assert text.returncode == 0 and text.stdout.startswith(f"job {data['job']}: ")

    mermaid = example_runs[(example.stem, "mermaid")]
    assert mermaid.returncode == 0 and mermaid.stdout.startswith("flowchart")

    dot = example_runs[(example.stem, "dot")]
    assert dot.returncode == 0
    assert re.match(r'digraph "[^"]+" \{', dot.stdout)
    assert dot.stdout.count("{") == dot.stdout.count("}")
    assert dot.stdout.rstrip().endswith("}")
    if any(data["connections"].values()):
        assert "->" in dot.stdout


def test_plan_json_of_the_hub_spoke_example(
    example_runs: dict[tuple[str, str], subprocess.CompletedProcess[str]],
) -> None:
    data = json.loads(example_runs[("hub-spoke", "json")].stdout)
    assert data["stages"] == [["weather", "maps"], ["controller"]]
    assert data["connections"]["controller"] == ["http://localhost:8102", "http://localhost:8103"]


def test_plan_json_of_the_dag_example(
    example_runs: dict[tuple[str, str], subprocess.CompletedProcess[str]],
) -> None:
    data = json.loads(example_runs[("dag", "json")].stdout)
    assert data["stages"] == [["output"], ["processor1", "processor2"], ["ingest"]]
    assert data["connections"]["ingest"] == ["http://localhost:8302", "http://localhost:8303"]


BAD = """\
job:
  name: bad
agents:
  - id: a
    command: x
    config: {port: 8001}
  - id: b
    command: x
    config: {port: 8001}
topology:
  type: dag
  connections:
    - {from: a, to: c}
"""


def test_bad_file_exits_2_with_located_errors(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(BAD)
    for result in run_all([["validate", path], ["plan", path]]):
        assert result.returncode == 2
        assert result.stdout == ""
        assert "Traceback" not in result.stderr
        assert result.stderr.splitlines() == [
            f"{path}:7:9: agents[1].id: agent 'b' is not part of the dag topology; add it "
            "there or remove the agent",
            f"{path}:9:20: agents[1].config.port: port 8001 on this machine is also used by "
            "agent 'a' (agents[0]); give each agent its own port",
            f"{path}:13:21: topology.connections[0].to[0]: no agent has id 'c'; agents are: a, b",
        ]


UNUSABLE = ["", "[1, 2\n", "- a\n", "job: {name: x}\n", "\x00\x01", "key: value\n", "\t"]


def test_unusable_files_never_show_a_traceback(tmp_path: Path) -> None:
    paths = []
    for i, content in enumerate(UNUSABLE):
        paths.append(tmp_path / f"job{i}.yaml")
        paths[-1].write_text(content)
    for path, result in zip(paths, run_all([["validate", p] for p in paths]), strict=True):
        assert result.returncode == 2, path.read_text()
        assert "Traceback" not in result.stderr
        assert result.stderr.startswith(f"{path}:")


def test_missing_file(tmp_path: Path) -> None:
    result = run("validate", tmp_path / "nope.yaml")
    assert result.returncode == 2
    assert result.stderr.strip() == f"{tmp_path / 'nope.yaml'}: no such file"


def test_import_check_runs_by_default_and_can_be_skipped(tmp_path: Path) -> None:
    path = tmp_path / "job.yaml"
    path.write_text(
        "job: {name: j}\nagents:\n  - {id: a, type: A, module: absent_module_z9, "
        "config: {port: 8001}}\ntopology: {type: dynamic}\n"
    )
    result, skipped = run_all([["validate", path], ["validate", path, "--skip-import-check"]])
    assert result.returncode == 2
    assert "agents[0].module: module 'absent_module_z9' cannot be found" in result.stderr
    assert skipped.returncode == 0
    (tmp_path / "absent_module_z9.py").write_text("class A:\n    pass\n")
    assert run("validate", path, cwd=Path("/")).returncode == 0


def test_schema_is_json_schema_for_job_files() -> None:
    result = run("schema")
    assert result.returncode == 0
    schema = json.loads(result.stdout)
    assert "agents" in schema["properties"]
    assert set(schema["required"]) >= {"job", "agents", "topology"}
    assert schema.get("additionalProperties") is False
    text = json.dumps(schema)
    assert '"from"' in text  # connections use the YAML name, not from_
    assert schema["patternProperties"] == {"^x-": {}}  # x- keys are allowed, as in the loader
    assert unknown_keywords(schema) == set()
    assert_examples_match(schema)


JSON_SCHEMA_KEYWORDS = {
    "$schema", "$defs", "$ref", "title", "description", "type", "properties", "required",
    "additionalProperties", "patternProperties", "items", "anyOf", "oneOf", "allOf", "enum",
    "const", "default", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
    "minLength", "maxLength", "minItems", "maxItems", "pattern", "format", "discriminator",
    "writeOnly", "readOnly", "examples",
}  # fmt: skip


def unknown_keywords(schema: object, under_names: bool = False) -> set[str]:
    """Keys in schema objects that are not JSON Schema keywords (e.g. pydantic's `ge`)."""
    found: set[str] = set()
    if isinstance(schema, dict):
        for key, value in schema.items():
            if not under_names and key not in JSON_SCHEMA_KEYWORDS:
                found.add(key)
            names = key in ("properties", "$defs", "patternProperties") and not under_names
            if key in ("default", "examples", "const", "enum") and not under_names:
                continue
            if names:
                for sub in value.values():
                    found |= unknown_keywords(sub)
            else:
                found |= unknown_keywords(value)
    elif isinstance(schema, list):
        for item in schema:
            found |= unknown_keywords(item)
    return found


def assert_examples_match(schema: dict[str, object]) -> None:
    """Check the schema itself, and validate every example against it."""
    import jsonschema
    import yaml

    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    for example in EXAMPLES:
        errors = list(validator.iter_errors(yaml.safe_load(example.read_text())))
        assert errors == [], example


def test_version() -> None:
    result = run("--version")
    assert result.returncode == 0
    assert re.fullmatch(r"agentsup \d+\.\d+\.\d+\S*\n", result.stdout)


def test_bad_command_line_exits_2() -> None:
    bad: list[list[str | Path]] = [
        [],
        ["frobnicate"],
        ["validate"],
        ["plan", "x.yaml", "--format", "svg"],
        ["--nope"],
    ]
    for args, result in zip(bad, run_all(bad), strict=True):
        assert result.returncode == 2, args
        assert "usage: agentsup" in result.stderr
        assert "Traceback" not in result.stderr
