"""An env file that goes away after the job file was checked, before the agents start.

`start` checks env files while loading, then reads them again when it builds each
agent's environment, after the backends' own checks (an image pull or an SSH host can
take minutes). The start here is the real one (`run_job`, what `agentsup start` runs
once the file is loaded) in its own process; only the file's removal is put between the
two steps, so that the moment is exact rather than a race.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.clirun import free_ports

pytestmark = pytest.mark.integration

START_AFTER_REMOVING = """\
import os, sys
from agentsup.app import run_job
from agentsup.job.loader import load_job
from agentsup.resolving import resolve

loaded = load_job(sys.argv[1])
plan = resolve(loaded)
os.remove(sys.argv[2])
sys.exit(run_job(loaded, plan, log_format="json", log_level="info", monitor=None))
"""


def test_a_start_whose_env_file_went_away_fails_before_anything_runs(tmp_path: Path) -> None:
    marker = tmp_path / "agent-ran"
    env_file = tmp_path / "agent.env"
    env_file.write_text("TOKEN=from-the-file\n")
    (port,) = free_ports(1)
    job = tmp_path / "job.yaml"
    job.write_text(yaml.safe_dump({
        "job": {"name": "envgone"},
        "agents": [{
            "id": "a",
            "command": [sys.executable, "-c", f"open({str(marker)!r}, 'w')"],
            "config": {"port": port},
            "deployment": {"env_file": "agent.env"},
        }],
        "topology": {"type": "dynamic"},
    }))
    done = subprocess.run(
        [sys.executable, "-c", START_AFTER_REMOVING, str(job), str(env_file)],
        capture_output=True, text=True, timeout=60,
    )
    assert "Traceback" not in done.stderr, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    failed = [event for event in events if event["event"] == "job.failed"]
    assert len(failed) == 1, events
    assert failed[0]["reason"] == (
        f"cannot build the environment of agent 'a': env file {str(env_file)!r} does not "
        "exist; nothing was started"
    )
    assert done.returncode == 1
    assert not any(event["event"] == "agent.started" for event in events)
    assert not marker.exists()  # the agent never ran, with or without its variables
