"""`agentsup schema` accepts exactly what the loader accepts.

Every example, then a set of edge cases: each case is a change to a valid job document;
the loader and a JSON Schema validator (over the real `agentsup schema` output) must give
the same verdict. YAML is parsed the way the loader parses it, so the schema sees the
same values. The cases change one value each: checks across fields (references to ids,
what each topology needs) are the loader's alone.
"""

from __future__ import annotations

import copy
import json
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from clirun import agentsup_command

from agentsup.job.loader import load_text
from agentsup.job.problems import JobFileError
from agentsup.job.yamlpos import parse

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("*.yaml"))


@pytest.fixture(scope="module")
def validator() -> jsonschema.protocols.Validator:
    out = subprocess.run(agentsup_command("schema"), capture_output=True, text=True, check=True)
    schema = json.loads(out.stdout)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def loader_accepts(text: str) -> bool:
    try:
        load_text(text, "job.yaml", base_dir=Path("."), import_check=False)
    except JobFileError:
        return False
    return True


def schema_accepts(validator: jsonschema.protocols.Validator, text: str) -> bool:
    return validator.is_valid(parse(text).data)


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_every_example_is_valid_by_the_schema(
    validator: jsonschema.protocols.Validator, example: Path
) -> None:
    text = example.read_text()
    assert loader_accepts(text)
    errors = [e.message for e in validator.iter_errors(parse(text).data)]
    assert errors == []


BASE: dict[str, Any] = {
    "job": {"name": "edge"},
    "agents": [
        {"id": "a", "command": ["sleep", "1"], "config": {"port": 8001}},
        {"id": "b", "command": "sleep 1", "config": {"port": 8002}},
    ],
    "topology": {"type": "hub-spoke", "hub": "a", "spokes": ["b"]},
}

# (path, value): the value set at that path in BASE, as YAML text.
CASES: list[tuple[str, str]] = [
    ("topology.type", "Hub_Spoke"),
    ("topology.type", "HUB-SPOKE"),
    ("topology.type", "' hub_Spoke '"),
    ("topology.type", "star"),
    ("topology.type", "hub spoke"),
    ("topology.type", "1"),
    ("deployment.timeout", "30"),
    ("deployment.timeout", "0.5"),
    ("deployment.timeout", "1e3"),
    ("deployment.timeout", "86400"),
    ("deployment.timeout", "86401"),
    ("deployment.timeout", "1e300"),
    ("deployment.timeout", ".inf"),
    # (.nan is refused by the loader; JSON has no NaN, so the schema cannot speak of it)
    ("deployment.timeout", "0"),
    ("deployment.timeout", "-1"),
    ("deployment.timeout", "'10'"),
    ("deployment.timeout", "true"),
    ("deployment.stop_timeout", ".inf"),
    ("deployment.shutdown_timeout", "30"),
    ("deployment.shutdown_timeout", "null"),
    ("deployment.health_check.interval", "1e10"),
    ("deployment.health_check.retries", "3"),
    ("deployment.health_check.retries", "0"),
    ("deployment.health_check.retries", "'3'"),
    ("deployment.health_check.retries", "true"),
    ("deployment.health_check.enabled", "false"),
    ("deployment.health_check.enabled", "1"),
    ("deployment.health_check.enabled", "'yes'"),
    ("deployment.restart.policy", "no"),
    ("deployment.restart.policy", "'no'"),
    ("deployment.restart.policy", "always"),
    ("deployment.restart.policy", "sometimes"),
    ("deployment.restart.max_restarts", "0"),
    ("deployment.restart.max_restarts", "-1"),
    ("deployment.restart.backoff.initial", "1e300"),
    ("deployment.restart.backoff.factor", "1"),
    ("deployment.restart.backoff.factor", "0.5"),
    ("deployment.restart.backoff.factor", "1000"),
    ("deployment.restart.backoff.factor", ".inf"),
    ("deployment.restart.restart_dependents", "true"),
    ("deployment.restart.restart_dependents", "'true'"),
    ("deployment.pull", "1"),
    ("deployment.strategy", "parallel"),
    ("deployment.strategy", "Parallel"),
    ("deployment.on_agent_failure", "continue"),
    ("deployment.ssh.timeout", "5"),
    ("deployment.ssh.timeout", "'5'"),
    ("deployment.network.allow_cross_host", "'no'"),
    ("deployment.logs", "{dir: l, keep: 0}"),
    ("deployment.logs", "{dir: l, keep: 1000}"),
    ("deployment.logs", "{dir: l, keep: 1001}"),
    ("deployment.logs", "{dir: l, keep: 1000000000}"),
    ("deployment.logs", "{dir: l, keep: -1}"),
    ("deployment.logs", "{dir: l, keep: 3.0}"),
    ("deployment.logs", "{dir: l, keep: '3'}"),
    ("deployment.logs", "{dir: l, keep: true}"),
    ("environment", "{A: '1', B: 2, C: true, D: null}"),
    ("environment", "{'A=B': x}"),
    ("environment", "{'': x}"),
    ("environment", "{A: \"x\\0y\"}"),
    ("environment", "{A: [1]}"),
    ("agents.0.deployment.environment", "{'=A': x}"),
    ("agents.0.deployment.environment", "{OK: 1.5}"),
    ("agents.0.deployment.stop_timeout", "2"),
    ("agents.0.deployment.stop_timeout", "1e10"),
    ("agents.0.config.port", "8080"),
    ("agents.0.config.port", "'8080'"),
    ("agents.0.config.port", "0"),
    ("agents.0.config.port", "65536"),
    ("agents.0.config.port", "true"),
    ("agents.0.config.port", "8080.0"),
    ("agents.0.config.port", "'80 80'"),
    ("agents.0.config.model", "gpt"),
    ("agents.0.resources.cpu", "0.5"),
    ("agents.0.resources.cpu", "'0.5'"),
    ("agents.0.resources.cpu", "0"),
    ("agents.0.resources.gpu", "1"),
    ("agents.0.resources.gpu", "'1'"),
    ("agents.0.resources.memory", "512M"),
    ("agents.0.resources.memory", "1024"),
    ("agents.0.resources.memory", "lots"),
    ("agents.0.id", "'a b'"),
    ("agents.0.id", "-a"),
    ("job.name", "'my job'"),
    ("job.name", "ok.name-1"),
    ("job.version", "1.10"),
    ("job.version", "true"),
    ("agents.0.command", "'   '"),
    ("agents.0.command", "[]"),
    ("agents.0.command", "[python3, -m, http.server, 8101]"),
    ("agents.0.unknown", "1"),
    ("agents.0.x-note", "anything"),
    ("x-top", "anything"),
]


def set_path(document: dict[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(document)
    node: Any = changed
    parts = [int(p) if p.isdigit() else p for p in dotted.split(".")]
    for part in parts[:-1]:
        node = node.setdefault(part, {}) if isinstance(node, dict) else node[part]
    node[parts[-1]] = value
    return changed


MARK = "__VALUE__"


@pytest.mark.parametrize(("path", "value"), CASES, ids=[f"{p}={v}" for p, v in CASES])
def test_schema_and_loader_agree(
    validator: jsonschema.protocols.Validator, path: str, value: str
) -> None:
    document = set_path(BASE, path, MARK)
    text = yaml.safe_dump(document, sort_keys=False).replace(MARK, value)
    by_loader = loader_accepts(text)
    by_schema = schema_accepts(validator, text)
    assert by_schema == by_loader, f"loader {'accepts' if by_loader else 'refuses'}:\n{text}"


def test_schema_shows_no_null_default() -> None:
    out = subprocess.run(agentsup_command("schema"), capture_output=True, text=True, check=True)
    assert '"default": null' not in out.stdout
