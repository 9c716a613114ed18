"""The fields pipelines rely on, read from the real `agentsup start` with real agents:
`elapsed`, `seconds` on job.ready, timestamps jq can parse, signals by name, stream levels."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from tests.clirun import (
    agent_entry,
    agentsup_command,
    free_ports,
    supervisor,
    write_job_document,
)

pytestmark = pytest.mark.integration


def test_every_event_has_elapsed_and_job_ready_has_seconds(tmp_path: Path) -> None:
    ports = free_ports(2)
    job = write_job_document(
        tmp_path,
        [agent_entry("hub", ports[0]), agent_entry("spoke", ports[1], PRINT_LINES=2)],
        {"type": "hub-spoke", "hub": "hub", "spokes": ["spoke"]},
    )
    with supervisor(job) as running:
        ready = running.wait_for("job.ready")
        running.signal(signal.SIGTERM)
        assert running.wait() == 0
    events = running.events
    elapsed = [event["elapsed"] for event in events]
    assert all(isinstance(value, int | float) for value in elapsed)
    assert elapsed == sorted(elapsed)
    assert isinstance(ready["seconds"], float)
    assert 0 < ready["seconds"] <= ready["elapsed"]
    if shutil.which("jq") is None:
        pytest.skip("jq is not installed")
    # jq's own date parser reads every timestamp; "time to ready" without a regex
    result = subprocess.run(
        ["jq", "-s", "-e", "map(.timestamp | fromdateiso8601) | length"],
        input="".join(running.raw_lines), capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) == len(events)


def test_signals_are_names_everywhere(tmp_path: Path) -> None:
    (port,) = free_ports(1)
    job = write_job_document(tmp_path, [agent_entry("a", port)], {"type": "dynamic"},
                             restart={"policy": "no"}, on_agent_failure="continue")
    with supervisor(job) as running:
        started = running.wait_for("job.ready")
        pid = int(running.named("agent.started")[0]["pid"])
        os.kill(pid, signal.SIGKILL)
        exited = running.wait_for("agent.exited", after=running.events.index(started))
        running.signal(signal.SIGINT)
        assert running.wait() == 0
    assert exited["signal"] == "SIGKILL"
    assert running.named("job.stopping")[0]["signal"] == "SIGINT"


def test_log_level_warning_keeps_stderr_and_drops_stdout(tmp_path: Path) -> None:
    (port,) = free_ports(1)
    job = write_job_document(tmp_path, [agent_entry("a", port, PRINT_LINES=3)],
                             {"type": "dynamic"})
    with supervisor(job, "--log-level", "warning") as running:
        running.wait_for("agent.output", where=lambda e: e.get("line") == "err line 2")
        running.signal(signal.SIGTERM)
        assert running.wait() == 0
    outputs = running.named("agent.output")
    assert [(e["stream"], e["level"], e["line"]) for e in outputs] == [
        ("stderr", "warning", f"err line {i}") for i in range(3)
    ]


def test_output_levels_are_set_per_job_and_agent(tmp_path: Path) -> None:
    ports = free_ports(2)
    quiet = agent_entry("quiet", ports[1], PRINT_LINES=1)
    quiet["deployment"]["output"] = {"stderr": "debug"}
    job = write_job_document(
        tmp_path, [agent_entry("loud", ports[0], PRINT_LINES=1), quiet], {"type": "dynamic"},
        output={"stdout": "error"},
    )
    with supervisor(job, "--log-level", "debug") as running:
        running.wait_for("job.ready")
        running.signal(signal.SIGTERM)
        assert running.wait() == 0
    levels = {(e["agent"], e["stream"]): e["level"] for e in running.named("agent.output")
              if "line" in e}
    assert levels == {
        ("loud", "stdout"): "error", ("loud", "stderr"): "warning",
        ("quiet", "stdout"): "error", ("quiet", "stderr"): "debug",
    }


def test_monitor_before_the_job_file_takes_the_default_interval(tmp_path: Path) -> None:
    (port,) = free_ports(1)
    job = write_job_document(tmp_path, [agent_entry("a", port)], {"type": "dynamic"})
    process = subprocess.Popen(
        agentsup_command("start", "--monitor", str(job), "--log-format", "json"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )
    try:
        assert process.stdout is not None
        for line in process.stdout:
            if json.loads(line)["event"] == "job.ready":
                break
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0, process.stderr.read() if process.stderr else ""
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
