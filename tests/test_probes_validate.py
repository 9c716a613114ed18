"""Bad probe settings are `validate` errors with FILE:LINE:COL; good ones merge as documented."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from clirun import agentsup_command
from jobtext import at

from agentsup import settings
from agentsup.job.loader import load_text
from agentsup.job.models import ProbeType
from agentsup.job.problems import JobFileError

FILE = "job.yaml"


def job_text(health: str, job_health: str = "") -> str:
    text = "job: {name: j}\n"
    if job_health:
        text += f"deployment:\n  health_check: {job_health}\n"
    return text + (
        "agents:\n"
        "  - id: a\n"
        "    command: serve\n"
        "    config: {port: 8001}\n"
        f"    health_check: {health}\n"
        "topology: {type: dynamic}\n"
    )


def errors(text: str, base_dir: Path = Path(".")) -> list[str]:
    with pytest.raises(JobFileError) as caught:
        load_text(text, FILE, base_dir=base_dir, import_check=False)
    return caught.value.render().splitlines()


def test_exec_without_a_command() -> None:
    text = job_text("{type: exec}")
    assert errors(text) == [
        f"{FILE}:{at(text, 'exec')}: agents[0].health_check.type: a health check of type "
        "exec needs 'command'"
    ]


def test_exec_chosen_by_the_job_and_no_command_anywhere_points_at_the_jobs_type() -> None:
    text = job_text("{interval: 2}", job_health="{type: exec}")
    assert errors(text) == [
        f"{FILE}:{at(text, 'exec')}: deployment.health_check.type: a health check of type "
        "exec needs 'command'"
    ]


def test_a_command_inherited_from_the_job_is_enough() -> None:
    text = job_text("{type: exec}", job_health="{command: 'true'}")
    loaded = load_text(text, FILE, base_dir=Path("."), import_check=False)
    agent = loaded.definition.agents[0]
    probe = settings.health(loaded.definition, agent).ready_probe()
    assert (probe.type, probe.command) == (ProbeType.EXEC, ["true"])


def test_log_without_a_pattern() -> None:
    text = job_text("{readiness: {type: log}}")
    assert errors(text) == [
        f"{FILE}:{at(text, 'log')}: agents[0].health_check.readiness.type: a health check "
        "of type log needs 'pattern'"
    ]


def test_a_pattern_that_does_not_compile() -> None:
    text = job_text("{type: log, pattern: 'ready ('}")
    (line,) = errors(text)
    where = at(text, "'ready (")
    assert line.startswith(f"{FILE}:{where}: agents[0].health_check.pattern: "
                           "not a regular expression: missing ), unterminated subpattern")


def test_a_ca_file_that_does_not_exist(tmp_path: Path) -> None:
    text = job_text("{scheme: https, ca_file: certs/ca.pem}")
    assert errors(text, tmp_path) == [
        f"{FILE}:{at(text, 'certs/ca.pem')}: agents[0].health_check.ca_file: no such file: "
        f"{tmp_path / 'certs/ca.pem'}"
    ]
    (tmp_path / "certs").mkdir()
    (tmp_path / "certs" / "ca.pem").write_text("x")
    load_text(text, FILE, base_dir=tmp_path, import_check=False)


def test_scheme_ftp() -> None:
    text = job_text("{scheme: ftp}")
    (line,) = errors(text)
    assert line.startswith(f"{FILE}:{at(text, 'ftp')}: agents[0].health_check.scheme: ")
    assert "'http' or 'https'" in line


def test_an_unknown_probe_type() -> None:
    text = job_text("{type: grpc}")
    (line,) = errors(text)
    assert line.startswith(f"{FILE}:{at(text, 'grpc')}: agents[0].health_check.type: ")


def test_the_cli_reports_them_all_with_exit_2(tmp_path: Path) -> None:
    text = job_text("{type: exec, readiness: {type: log, pattern: '('}, ca_file: nope.pem}")
    job = tmp_path / "job.yaml"
    job.write_text(text)
    done = subprocess.run(agentsup_command("validate", str(job)), capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert "Traceback" not in done.stderr
    joined = "\n".join(lines)
    assert f"{job}:{at(text, 'exec')}: agents[0].health_check.type: " in joined
    where = at(text, "'('")
    assert f"{job}:{where}: agents[0].health_check.readiness.pattern: " in joined
    assert f"{job}:{at(text, 'nope.pem')}: agents[0].health_check.ca_file: " in joined


def test_merging_purposes_and_the_per_agent_timeout() -> None:
    text = (
        "job: {name: j}\n"
        "deployment:\n"
        "  timeout: 60\n"
        "  health_check: {path: /health, liveness: {path: /live, interval: 30}}\n"
        "agents:\n"
        "  - id: a\n"
        "    command: serve\n"
        "    config: {port: 8001}\n"
        "    deployment: {timeout: 300}\n"
        "    health_check: {readiness: {path: /ready}, liveness: {enabled: false}}\n"
        "  - id: b\n"
        "    command: serve\n"
        "    config: {port: 8002}\n"
        "topology: {type: dynamic}\n"
    )
    job = load_text(text, FILE, base_dir=Path("."), import_check=False).definition
    a, b = job.agents
    health_a, health_b = settings.health(job, a), settings.health(job, b)
    assert health_a.ready_probe().path == "/ready"
    assert not health_a.live_probe().enabled
    assert health_b.ready_probe().path == "/health"
    assert (health_b.live_probe().path, health_b.live_probe().interval) == ("/live", 30)
    assert (settings.start_timeout(job, a), settings.start_timeout(job, b)) == (300, 60)


def test_the_schema_names_the_new_fields() -> None:
    done = subprocess.run(agentsup_command("schema"), capture_output=True, text=True,
                          timeout=60, check=True)
    schema = json.loads(done.stdout)
    text = json.dumps(schema)
    for field in ("readiness", "liveness", "ca_file", "pattern", "a2a", "https"):
        assert f'"{field}"' in text, field
    deployment = schema["$defs"]["AgentDeployment"]["properties"]
    assert "timeout" in deployment
