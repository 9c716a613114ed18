"""The generated records and schema (`agentsup/job/records*.py`) against the pydantic models.

`start` and `validate` check a job file with the schema the pydantic models make, written
out with frozen Structs in the models' place (`agentsup.job.generate`). These tests fail
when those files are out of date, when validating through it gives other values
or other errors than the models themselves, and when checking a file builds pydantic's
model classes after all (the cost the records exist to avoid).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any, cast

import msgspec
import pydantic_core
import pytest
import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import SchemaValidator, core_schema

from agentsup.job import generate, records_schema, schema_cache, schema_models, validation
from agentsup.job.models import AgentConfig, HealthCheck, JobDefinition, Secret
from agentsup.job.validation import validate_job

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("target", "text"),
    [(generate.RECORDS, generate.records_text), (generate.SCHEMA, generate.schema_text)],
    ids=["records", "schema"],
)
def test_the_generated_files_are_up_to_date(target: Path, text: Any) -> None:
    assert target.read_text() == text(), (
        f"{target.name} is out of date: run `python -m agentsup.job.generate`"
    )


def _plain(value: Any) -> Any:
    """A model or a record as nested plain values, with its class's name at each level."""
    if isinstance(value, BaseModel):
        fields = {name: _plain(getattr(value, name)) for name in type(value).model_fields}
        fields.update({k: _plain(v) for k, v in (value.model_extra or {}).items()})
        return type(value).__name__, fields
    if isinstance(value, AgentConfig):
        fields = {"port": _plain(value.port)}
        fields.update({k: _plain(v) for k, v in value.extra.items()})
        return "AgentConfig", fields
    if isinstance(value, msgspec.Struct):
        shown = {name: _plain(getattr(value, name)) for name in value.__struct_fields__}
        return type(value).__name__, shown
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, Secret):
        return "secret", value.get_secret_value()
    return type(value).__name__, value


def _models_in(value: Any) -> list[str]:
    """The pydantic models anywhere in a value that should hold records alone (a record
    and a model of one name read alike to `_plain`)."""
    if isinstance(value, BaseModel):
        return [type(value).__name__]
    if isinstance(value, msgspec.Struct):
        return [m for name in value.__struct_fields__ for m in _models_in(getattr(value, name))]
    if isinstance(value, list):
        return [m for item in value for m in _models_in(item)]
    if isinstance(value, dict):
        return [m for item in value.values() for m in _models_in(item)]
    return []


def _outcome(check: Any, data: Any) -> tuple[Any, Any]:
    try:
        return _plain(check(data)), None
    except ValidationError as exc:
        return None, [(e["loc"], e["msg"], e["type"]) for e in exc.errors(include_url=False)]


GOOD = {
    "job": {"name": "j", "version": 1.5, "tags": ["t"]},
    "environment": {"A": 1, "B": True, "C": None},
    "env_file": "one.env",
    "agents": [
        {
            "id": "a",
            "command": "serve --port 8000",
            "config": {"port": "8000", "model": "m", "nested": {"k": [1, 2]}},
            "resources": {"cpu": 0.5, "memory": 1073741824, "gpu": 1.0},
            "health_check": {
                "type": "exec", "command": ["true", 3], "retries": 2.0,
                "readiness": {"path": "/ready", "interval": 0.5},
                "liveness": {"enabled": False},
            },
            "deployment": {
                "target": "remote", "host": "h", "port": 2222, "password": "pw",
                "env_file": ["x.env", "y.env"], "stop_signal": "int",
                "output": {"stderr": "error"}, "logs": {"max_size": "1M", "keep": 3},
                "placement": {"constraints": ["node.role==worker"]},
            },
            "restart": {"policy": False, "backoff": {"factor": 3.0}},
        },
        {"id": "b", "module": "m", "config": {"port": 8001}},
    ],
    "topology": {
        "type": "Hierarchical",
        "root": "a",
        "levels": [["a"], {"parent": "a", "children": "b"}],
        "connections": [{"from": "a", "to": "b"}],
    },
    "deployment": {
        "strategy": "top-down", "timeout": 5.0, "stop_signal": "SIGHUP",
        "logs": {"dir": "logs"}, "restart": {"max_restarts": 2, "window": 10.0},
        "health_check": {"path": "/h", "scheme": "https"}, "ssh": {"known_hosts": "ignore"},
        "network": {"advertise_host": "10.0.0.1"}, "swarm": {"engine": "unix:///s"},
        "on_agent_failure": "continue",
    },
    "execution": {"anything": [1, {"goes": True}]},
}


def _with(path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    """GOOD with the value at `path` replaced."""
    import copy

    document = copy.deepcopy(GOOD)
    target: Any = document
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return document


BAD = [
    _with(("job", "name"), ""),
    _with(("job", "name"), "has space"),
    _with(("job", "surprise"), 1),
    _with(("agents",), []),
    _with(("agents", 0, "id"), "-x"),
    _with(("agents", 0, "config", "port"), True),
    _with(("agents", 0, "config", "port"), 70000),
    _with(("agents", 0, "command"), ""),
    _with(("agents", 0, "resources", "memory"), "lots"),
    _with(("agents", 0, "resources", "cpu"), "1"),
    _with(("agents", 0, "health_check", "path"), "health"),
    _with(("agents", 0, "health_check", "retries"), 0),
    _with(("agents", 0, "health_check", "interval"), float("inf")),
    _with(("agents", 0, "deployment", "stop_signal"), "SIGKILL"),
    _with(("agents", 0, "deployment", "password"), 1234),
    _with(("agents", 0, "deployment", "target"), "moon"),
    _with(("agents", 0, "deployment", "logs", "keep"), 5000),
    _with(("agents", 0, "deployment", "logs", "max_size"), "1"),
    _with(("agents", 0, "deployment", "environment"), {"A=B": 1, "C": [1]}),
    _with(("agents", 0, "restart", "policy"), "sometimes"),
    _with(("topology", "type"), "ring"),
    _with(("topology", "levels"), [3, {"parent": "a"}]),
    _with(("topology", "connections"), [{"to": "b"}]),
    _with(("deployment", "strategy"), "fast"),
    _with(("deployment", "timeout"), "10"),
    _with(("deployment", "pull"), "yes"),
    _with(("deployment", "restart", "backoff"), {"factor": 0.5}),
    ["not", "a", "mapping"],
]


@pytest.mark.parametrize("data", [GOOD, *BAD], ids=["good", *map(str, range(len(BAD)))])
def test_the_records_agree_with_the_models(data: Any) -> None:
    by_models = _outcome(schema_models.JobDefinition.model_validate, data)
    by_records = _outcome(validate_job, data)
    assert by_records == by_models
    assert (by_models[1] is None) == (data is GOOD)


@pytest.mark.parametrize("example", sorted((ROOT / "examples").glob("*.yaml")), ids=str)
def test_the_examples_read_the_same_both_ways(example: Path) -> None:
    data = yaml.safe_load(example.read_text())
    assert _outcome(validate_job, data) == _outcome(
        schema_models.JobDefinition.model_validate, data
    )


def _made_schema() -> dict[str, Any]:
    namespace: dict[str, Any] = {}
    exec(generate.schema_code(), namespace)
    schema: dict[str, Any] = namespace["SCHEMA"]
    return schema


@pytest.mark.parametrize("data", [GOOD, *BAD], ids=["good", *map(str, range(len(BAD)))])
def test_the_schema_made_for_another_pydantic_core_checks_the_same(data: Any) -> None:
    # What `validation` compiles when the installed pydantic-core is not the one the
    # written schema was made for: the same schema, made now from the models.
    made = SchemaValidator(cast(core_schema.CoreSchema, _made_schema()))
    assert _outcome(made.validate_python, data) == _outcome(validate_job, data)
    if data is GOOD:  # defaults made by a factory are records too
        assert _models_in(made.validate_python(data)) == []


def test_another_pydantic_core_makes_the_schema_once_and_keeps_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    # The installed pydantic-core is the one the file was written for; the test says
    # that the file was written for another one, the only way to reach this path here.
    made: list[object] = []

    def schema_code() -> Any:
        made.append(original())
        return made[-1]

    original = generate.schema_code
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(records_schema, "PYDANTIC_CORE_VERSION", "0.0.0")
    monkeypatch.setattr(generate, "schema_code", schema_code)
    by_models = schema_models.JobDefinition.model_validate(GOOD)

    def check() -> None:
        validation._validator.cache_clear()
        assert _plain(validate_job(GOOD)) == _plain(by_models)
        assert _models_in(validate_job(GOOD)) == []
        assert _outcome(validate_job, BAD[0]) == _outcome(
            schema_models.JobDefinition.model_validate, BAD[0])

    try:
        check()  # made, and kept
        kept = schema_cache.cache_file()
        assert kept is not None
        assert len(made) == 1 and kept.parent == tmp_path / "cache" / "agentsup"
        assert kept.stat().st_uid == os.getuid()
        assert kept.stat().st_mode & 0o022 == 0
        check()  # read back: not made again
        assert len(made) == 1
        kept.chmod(0o666)  # anyone could have written it: not loaded, made anew
        check()
        assert len(made) == 2
        kept.write_bytes(b"not marshal")
        kept.chmod(0o600)
        check()  # unreadable: made anew and kept again
        assert len(made) == 3
        check()
        assert len(made) == 3
        # A new pydantic-core (or agentsup, or model) is another file.
        monkeypatch.setattr(pydantic_core, "__version__", "99.0.0")
        assert schema_cache.cache_file() != kept
    finally:
        validation._validator.cache_clear()


def test_without_the_written_schema_source_nothing_is_kept(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    # An installation with bytecode only: nothing to name the file after, so the schema
    # is made in the process each time, as before the cache.
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(records_schema, "PYDANTIC_CORE_VERSION", "0.0.0")
    monkeypatch.setattr(records_schema, "__file__", str(tmp_path / "gone.py"))
    validation._validator.cache_clear()
    try:
        assert schema_cache.cache_file() is None
        by_models = schema_models.JobDefinition.model_validate(GOOD)
        assert _plain(validate_job(GOOD)) == _plain(by_models)
        assert not (tmp_path / "cache").exists()
    finally:
        validation._validator.cache_clear()


def test_a_cache_that_cannot_be_written_is_no_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("")  # a file where the cache directory would be
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))
    monkeypatch.setattr(records_schema, "PYDANTIC_CORE_VERSION", "0.0.0")
    validation._validator.cache_clear()
    try:
        by_models = schema_models.JobDefinition.model_validate(GOOD)
        assert _plain(validate_job(GOOD)) == _plain(by_models)
        assert not blocked.is_dir()
    finally:
        validation._validator.cache_clear()


def test_records_are_frozen_values() -> None:
    job = validate_job(GOOD)
    assert isinstance(job, JobDefinition)
    assert _models_in(job) == []
    assert job == validate_job(GOOD)
    assert job.agent("b").module == "m"
    with pytest.raises(AttributeError):
        job.agents[0].config.port = 1  # type: ignore[misc]
    with pytest.raises(AttributeError):
        job.agents[0].id = "z"  # type: ignore[misc]
    assert "pw" not in repr(job) and "pw" not in str(job.agents[0].deployment.password)
    assert job.agents[0].config.scalars() == {"model": "m"}
    assert HealthCheck().readiness is None


def test_checking_a_file_builds_no_pydantic_class(tmp_path: Path) -> None:
    # `validate` and `start` read the job through the records; pydantic's model classes
    # (pydantic.main, agentsup's schema models) are for `agentsup schema` and for
    # suggestions about unknown keys only.
    probe = (
        "import sys\n"
        "from agentsup.cli import main\n"
        "code = main(['validate', sys.argv[1]])\n"
        "loaded = sorted(m for m in ('pydantic.main', 'agentsup.job.schema_models') "
        "if m in sys.modules)\n"
        "print(code, loaded)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", probe, str(ROOT / "examples" / "hub-spoke.yaml")],
        env=env, capture_output=True, text=True, timeout=60, check=True,
    )
    assert done.stdout.splitlines()[-1] == "0 []"
