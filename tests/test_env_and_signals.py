"""Env files, inherited environment and stop signals, seen by real agent processes
started by the real `agentsup start`."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import pytest

from tests.clirun import TEST_AGENT, free_ports, supervisor, write_job_document

pytestmark = pytest.mark.integration

SIGNAL_AGENT = Path(__file__).parent / "agents" / "signalagent.py"


def test_a_real_agent_sees_env_files_and_environments_in_order(tmp_path: Path) -> None:
    (tmp_path / "job.env").write_text("ONE=job-file\nTWO=job-file\nTHREE=job-file\n"
                                      "FOUR=job-file\n")
    (tmp_path / "agent.env").write_text("THREE=agent-file\nFOUR=agent-file\n")
    (port,) = free_ports(1)
    job = write_job_document(
        tmp_path,
        [{
            "id": "a",
            "command": [sys.executable, str(TEST_AGENT)],
            "config": {"port": port, "tools": ["x", "y"]},
            "deployment": {
                "env_file": "agent.env",
                "environment": {"PRINT_ENV": "1", "FOUR": "agent-environment"},
            },
        }],
        {"type": "dynamic"},
    )
    text = job.read_text().replace("agents:", "env_file: job.env\nenvironment:\n  TWO: job-env\n"
                                   "  THREE: job-env\n  FOUR: job-env\nagents:", 1)
    job.write_text(text)
    with supervisor(job, env={"FROM_SUPERVISOR": "inherited"}) as running:
        event = running.wait_for(
            "agent.output", where=lambda e: (e.get("payload") or {}).get("kind") == "env"
        )
        running.wait_for("job.ready")
        running.signal(signal.SIGTERM)
        assert running.wait() == 0
    env = event["payload"]["env"]
    assert [env["ONE"], env["TWO"], env["THREE"], env["FOUR"]] == [
        "job-file", "job-env", "agent-file", "agent-environment"
    ]
    assert env["AGENT_TOOLS"] == '["x","y"]'
    assert env["FROM_SUPERVISOR"] == "inherited"


def test_inherit_environment_false_gives_only_the_job_files_variables(tmp_path: Path) -> None:
    (port,) = free_ports(1)
    job = write_job_document(
        tmp_path,
        [{
            "id": "a",
            "command": [sys.executable, str(TEST_AGENT)],
            "config": {"port": port},
            "deployment": {"environment": {"PRINT_ENV": "1"}},
        }],
        {"type": "dynamic"},
        inherit_environment=False,
    )
    with supervisor(job, env={"FROM_SUPERVISOR": "inherited"}) as running:
        event = running.wait_for(
            "agent.output", where=lambda e: (e.get("payload") or {}).get("kind") == "env"
        )
        running.signal(signal.SIGTERM)
        assert running.wait() == 0
    env = event["payload"]["env"]
    assert "FROM_SUPERVISOR" not in env
    assert "HOME" not in env
    assert env["AGENT_ID"] == "a"
    assert env["PRINT_ENV"] == "1"


@pytest.mark.parametrize(
    ("job_signal", "agent_signal", "expected"),
    [(None, None, "SIGTERM"), ("INT", None, "SIGINT"), ("SIGINT", "SIGUSR1", "SIGUSR1")],
)
def test_a_real_agent_receives_its_stop_signal(
    tmp_path: Path, job_signal: str | None, agent_signal: str | None, expected: str
) -> None:
    record = tmp_path / "signals.txt"
    (port,) = free_ports(1)
    deployment: dict[str, object] = {"environment": {"SIGNAL_FILE": str(record)}}
    if agent_signal is not None:
        deployment["stop_signal"] = agent_signal
    extra = {"stop_signal": job_signal} if job_signal is not None else {}
    job = write_job_document(
        tmp_path,
        [{"id": "a", "command": [sys.executable, str(SIGNAL_AGENT)], "config": {"port": port},
          "deployment": deployment}],
        {"type": "dynamic"},
        **extra,
    )
    with supervisor(job) as running:
        running.wait_for("job.ready")
        running.signal(signal.SIGTERM)
        assert running.wait() == 0
        stopped = running.wait_for("agent.stopped")
    assert record.read_text().split() == [expected]
    assert stopped.get("exit_code") == 0


def test_validate_names_a_missing_env_file_with_its_place_and_exits_2(tmp_path: Path) -> None:
    import subprocess

    from tests.clirun import agentsup_command

    job = tmp_path / "job.yaml"
    job.write_text("job: {name: j}\nagents:\n  - id: a\n    command: x\n    config: {port: 1}\n"
                   "    deployment:\n      env_file: [present.env, secrets.env]\n"
                   "topology: {type: dynamic}\n")
    (tmp_path / "present.env").write_text("A=1\n")
    result = subprocess.run(agentsup_command("validate", str(job)), capture_output=True,
                            text=True, timeout=60, check=False)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == (
        f"{job}:7:31: agents[0].deployment.env_file[1]: env file "
        f"{str(tmp_path / 'secrets.env')!r} does not exist\n"
    )
