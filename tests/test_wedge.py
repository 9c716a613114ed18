"""The supervisor never wedges: a stdout nobody reads, late signals, SIGHUP."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
from clirun import (
    agent_entry,
    agentsup_command,
    free_ports,
    supervisor,
    wait_gone,
    write_job_document,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

LINES = 40_000  # per stream: 80,000 events of ~150 bytes, far more than the 4 MiB backlog


def listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def wait_until(condition: object, timeout: float) -> None:
    assert callable(condition)
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def test_signal_stops_the_job_while_nobody_reads_stdout(tmp_path: Path) -> None:
    port, = free_ports(1)
    job = write_job_document(
        tmp_path, [agent_entry("flood", port, PRINT_LINES=LINES)], {"type": "mesh"}
    )
    with (tmp_path / "stderr").open("w") as stderr:
        process = subprocess.Popen(
            agentsup_command("start", str(job), "--log-format", "json"),
            stdout=subprocess.PIPE, stderr=stderr, start_new_session=True,
        )
    try:
        # The agent listens only after writing all its lines, which fill the pipe
        # that this test does not read.
        wait_until(lambda: listening(port), 180)
        process.send_signal(signal.SIGTERM)
        # The job stops (its agent is gone) while stdout is still not being read.
        wait_until(lambda: not listening(port), 180)
        out, _ = process.communicate(timeout=180)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert process.returncode == 0
    events = [json.loads(line) for line in out.decode().splitlines()]  # all strict JSON
    names = [e["event"] for e in events]
    assert names[-1] == "job.stopped" and names.count("job.stopped") == 1
    assert events[-1]["exit_code"] == 0
    for lifecycle in ("agent.started", "job.stopping", "agent.stopped"):
        assert lifecycle in names
    dropped = sum(e["count"] for e in events if e["event"] == "events.dropped")
    assert dropped > 0
    written = sum(1 for e in events if e["event"] == "agent.output")
    # Each of the agent's lines is either written or counted as dropped; the agent
    # also announces that it listens.
    assert written + dropped == 2 * LINES + 1


@pytest.mark.parametrize("late", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_a_signal_after_job_stopped_keeps_the_reported_exit_code(
    tmp_path: Path, late: int
) -> None:
    port, = free_ports(1)
    job = write_job_document(
        tmp_path, [agent_entry("crash", port, EXIT_AFTER=0.1, EXIT_CODE=3)], {"type": "mesh"},
        restart={"policy": "no"},
    )
    with supervisor(job) as run:
        stopped = run.wait_for("job.stopped")
        while run.process.poll() is None:
            run.signal(late)
            time.sleep(0.01)
        assert stopped["exit_code"] == 1
        assert run.wait() == 1
        assert run.named("job.stopped") == [stopped]
        assert "Traceback" not in run.stderr_text()


def test_sighup_is_a_graceful_stop(tmp_path: Path) -> None:
    port, = free_ports(1)
    job = write_job_document(tmp_path, [agent_entry("a", port)], {"type": "mesh"})
    with supervisor(job) as run:
        run.wait_for("job.ready")
        run.signal(signal.SIGHUP)
        assert run.wait() == 0
        assert run.wait_for("job.stopping")["signal"] == "SIGHUP"
        assert run.named("agent.stopped") and run.named("job.stopped")[0]["exit_code"] == 0


ODD_LINES = [
    '{"value": NaN, "big": Infinity, "small": -Infinity}',
    # Nested far deeper than a recursive parser can follow, yet shorter than 64 KiB
    # (longer lines arrive in pieces).
    '{"a":' + "[" * 30_000 + "]" * 30_000 + "}",
    '{"b":' + '{"c":' * 10_000 + "1" + "}" * 10_000 + "}",
    '{"ok": 1.5, "text": "fine"}',
]


def test_odd_json_lines_stay_strict_json_and_none_is_lost(tmp_path: Path) -> None:
    port, = free_ports(1)
    lines = tmp_path / "lines"
    lines.write_text("".join(line + "\n" for line in ODD_LINES))
    job = write_job_document(
        tmp_path, [agent_entry("odd", port, ECHO_FILE=lines)],
        {"type": "mesh"},
    )
    with supervisor(job) as run:
        run.wait_for("job.ready")
        run.signal(signal.SIGTERM)
        assert run.wait() == 0
    def not_json(name: str) -> None:
        pytest.fail(f"{name} in an event line")

    for raw in run.raw_lines:
        json.loads(raw, parse_constant=not_json)
    assert not run.named("log") and not run.named("<not json>")
    output = [e for e in run.named("agent.output") if e["stream"] == "stdout"]
    assert [e.get("line") for e in output[:3]] == ODD_LINES[:3]
    assert output[3]["payload"] == {"ok": 1.5, "text": "fine"}


def test_shutdown_timeout_bounds_an_ordered_stop_that_would_add_up(tmp_path: Path) -> None:
    ports = free_ports(3)
    agents = [
        agent_entry(name, port, IGNORE_TERM=1)
        for name, port in zip("abc", ports, strict=True)
    ]
    job = write_job_document(
        tmp_path, agents, {"type": "pipeline", "stages": ["a", "b", "c"]},
        stop_timeout=60, shutdown_timeout=1,
    )
    with supervisor(job) as run:
        run.wait_for("job.ready")
        pids = [e["pid"] for e in run.named("agent.started")]
        run.signal(signal.SIGTERM)
        assert run.wait(timeout=60) == 0
        stopping = [e.get("reason") for e in run.named("job.stopping")]
        assert stopping == ["signal", "shutdown_timeout"]
        assert run.events[-1]["event"] == "job.stopped"
        assert run.events[-1]["killed"] is True
        assert wait_gone(pids, 10.0) == []
