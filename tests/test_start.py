"""`agentsup start` end to end: the real CLI, real agent processes, real HTTP."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from clirun import (
    agent_entry,
    agentsup_command,
    free_ports,
    pid_alive,
    supervisor,
    wait_gone,
    write_job_document,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]


def agent(agent_id: str, port: int, restart: dict[str, Any] | None = None,
          **env: Any) -> dict[str, Any]:
    return agent_entry(agent_id, port, restart, **env)


def write(tmp_path: Path, agents: list[dict[str, Any]], topology: dict[str, Any],
          **deployment: Any) -> Path:
    return write_job_document(tmp_path, agents, topology, **deployment)


def test_stages_start_only_after_the_previous_stage_is_ready(tmp_path: Path) -> None:
    hub, left, right = free_ports(3)
    job = write(
        tmp_path,
        [agent("controller", hub), agent("weather", left, LISTEN_DELAY=0.6),
         agent("maps", right, LISTEN_DELAY=0.3)],
        {"type": "hub-spoke", "hub": "controller", "spokes": ["weather", "maps"]},
    )
    with supervisor(job) as run:
        run.wait_for("job.ready")
        hub_starting = run.index_of("agent.starting", lambda e: e["agent"] == "controller")
        for spoke in ("weather", "maps"):
            assert run.index_of("agent.ready", lambda e, s=spoke: e["agent"] == s) < hub_starting
        assert run.index_of("stage.ready", lambda e: e["stage"] == 1) < hub_starting
        ready = run.named("agent.ready")
        assert [e["agent"] for e in ready][-1] == "controller"
        # the spokes started together, in the order the topology names them
        started = [e["agent"] for e in run.named("agent.starting")]
        assert started == ["weather", "maps", "controller"]
        run.signal(signal.SIGTERM)
        assert run.wait() == 0


def test_environment_contract_agent_wins_over_job(tmp_path: Path) -> None:
    hub, spoke = free_ports(2)
    agents = [agent("hub", hub, PRINT_ENV=1, SHARED="from-agent"), agent("spoke", spoke)]
    agents[0]["config"].update({"model": "small", "temperature": 0.5, "verbose": True,
                                "nested": {"x": 1}})
    job = write(tmp_path, agents, {"type": "hub-spoke", "hub": "hub", "spokes": ["spoke"]})
    document = yaml.safe_load(job.read_text())
    document["environment"] = {"SHARED": "from-job", "ONLY_JOB": 7, "FLAG": False}
    job.write_text(yaml.safe_dump(document, sort_keys=False))
    with supervisor(job) as run:
        event = run.wait_for(
            "agent.output", where=lambda e: (e.get("payload") or {}).get("kind") == "env"
        )
        env = event["payload"]["env"]
        assert event["agent"] == "hub"
        assert env["AGENT_ID"] == "hub"
        assert env["AGENT_PORT"] == str(hub)
        assert env["AGENT_MODEL"] == "small"
        assert env["AGENT_TEMPERATURE"] == "0.5"
        assert env["AGENT_VERBOSE"] == "true"
        assert env["AGENT_NESTED"] == '{"x":1}'  # maps and lists as JSON text
        assert env["CONNECTED_AGENTS"] == f"http://localhost:{spoke}"
        assert json.loads(env["AGENTSUP_CONNECTIONS"]) == {"spoke": f"http://localhost:{spoke}"}
        assert env["AGENTSUP_JOB"] == env["JOB_ID"] == "t"
        assert env["SHARED"] == "from-agent"
        assert env["ONLY_JOB"] == "7"
        assert env["FLAG"] == "false"
        run.wait_for("job.ready")
        run.signal(signal.SIGTERM)
        assert run.wait() == 0


def test_stdout_is_only_json_events_and_output_is_captured(tmp_path: Path) -> None:
    (port,) = free_ports(1)
    job = write(tmp_path, [agent("talker", port, PRINT_LINES=3)], {"type": "dynamic"})
    with supervisor(job) as run:
        run.wait_for("job.ready")
        run.wait_for("agent.output", where=lambda e: e.get("line") == "err line 2")
        run.signal(signal.SIGTERM)
        assert run.wait() == 0
    assert run.raw_lines, "no output at all"
    for line in run.raw_lines:
        event = json.loads(line)
        for key in ("timestamp", "level", "event", "job"):
            assert key in event, line
        assert event["timestamp"].endswith(("Z", "+00:00"))
    outputs = [e for e in run.events if e["event"] == "agent.output"]
    stdout_lines = [e["line"] for e in outputs if e["stream"] == "stdout" and "line" in e]
    stderr_lines = [e["line"] for e in outputs if e["stream"] == "stderr" and "line" in e]
    assert stdout_lines == ["out line 0", "out line 1", "out line 2"]
    assert stderr_lines == ["err line 0", "err line 1", "err line 2"]
    listening = [e for e in outputs if (e.get("payload") or {}).get("kind") == "listening"]
    assert listening and listening[0]["payload"]["port"] == port
    assert all(e["agent"] == "talker" for e in outputs)
    names = [e["event"] for e in run.events]
    for name in ("job.loaded", "plan.resolved", "stage.started", "agent.starting",
                 "agent.started", "agent.ready", "stage.ready", "job.ready", "job.stopping",
                 "agent.stopped", "job.stopped"):
        assert name in names, name


def test_sigterm_stops_in_reverse_order_and_leaves_no_process(tmp_path: Path) -> None:
    ports = free_ports(3)
    job = write(
        tmp_path,
        [agent("first", ports[0], GRANDCHILD=1), agent("second", ports[1], GRANDCHILD=1),
         agent("third", ports[2])],
        {"type": "pipeline", "stages": ["first", "second", "third"]},
    )
    with supervisor(job) as run:
        run.wait_for("job.ready")
        run.wait_for("agent.output",
                     where=lambda e: (e.get("payload") or {}).get("kind") == "grandchild")
        pids = run.agent_pids()
        assert len(pids) >= 4
        run.signal(signal.SIGTERM)
        assert run.wait() == 0
        stopped = [e["agent"] for e in run.named("agent.stopped")]
        assert stopped == ["first", "second", "third"]  # callers first: reverse start order
        assert run.events[-1]["event"] == "job.stopped"
        assert run.events[-1]["exit_code"] == 0
        assert wait_gone(pids, 3.0) == []


def test_agent_that_never_becomes_healthy_fails_the_job(tmp_path: Path) -> None:
    good, bad = free_ports(2)
    job = write(
        tmp_path,
        [agent("good", good), agent("bad", bad, HEALTH_STATUS=503)],
        {"type": "hub-spoke", "hub": "good", "spokes": ["bad"]},
        timeout=1.5,
    )
    with supervisor(job) as run:
        assert run.wait(timeout=30) == 1
        failed = run.wait_for("job.failed")
        assert "bad" in failed["reason"] and "not ready within 1.5 s" in failed["reason"]
        assert "HTTP 503" in failed["reason"]
        assert not run.named("agent.starting") or all(
            e["agent"] != "good" for e in run.named("agent.starting")
        )
        assert wait_gone(run.agent_pids(), 3.0) == []
        assert run.events[-1]["event"] == "job.stopped"


def test_sigkilled_supervisor_leaves_no_agent_behind(tmp_path: Path) -> None:
    ports = free_ports(2)
    job = write(
        tmp_path,
        [agent("a", ports[0], GRANDCHILD=1, IGNORE_TERM=1), agent("b", ports[1])],
        {"type": "mesh"},
    )
    with supervisor(job) as run:
        run.wait_for("job.ready")
        run.wait_for("agent.output",
                     where=lambda e: (e.get("payload") or {}).get("kind") == "grandchild")
        pids = run.agent_pids()
        assert all(pid_alive(p) for p in pids)
        run.process.send_signal(signal.SIGKILL)
        run.process.wait(timeout=10)
        assert wait_gone(pids, 5.0) == []


def test_plain_http_server_with_root_health_path(tmp_path: Path) -> None:
    (port,) = free_ports(1)
    document = {
        "job": {"name": "plain"},
        "deployment": {"health_check": {"path": "/", "interval": 0.5}},
        "agents": [{"id": "files", "command": f"{sys.executable} -m http.server {port} "
                    "--bind 127.0.0.1", "config": {"port": port}}],
        "topology": {"type": "dynamic"},
    }
    job = tmp_path / "plain.yaml"
    job.write_text(yaml.safe_dump(document))
    with supervisor(job) as run:
        ready = run.wait_for("agent.ready")
        assert ready["url"] == f"http://localhost:{port}"
        assert ready["seconds"] < 10
        run.signal(signal.SIGINT)
        assert run.wait() == 0
        assert run.named("job.stopping")[0]["signal"] == "SIGINT"


def test_port_taken_by_another_process_is_reported_before_anything_starts(
    tmp_path: Path,
) -> None:
    ports = free_ports(2)
    job = write(tmp_path, [agent("a", ports[0]), agent("b", ports[1])], {"type": "mesh"})
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", ports[1]))
    blocker.listen()
    try:
        with supervisor(job) as run:
            assert run.wait() == 1
            failed = run.wait_for("job.failed")
            assert f"port {ports[1]}" in failed["reason"] and "'b'" in failed["reason"]
            assert not run.named("agent.started")
    finally:
        blocker.close()


def test_second_sigint_kills_at_once(tmp_path: Path) -> None:
    (port,) = free_ports(1)
    job = write(tmp_path, [agent("stubborn", port, IGNORE_TERM=1)], {"type": "dynamic"},
                stop_timeout=60)
    with supervisor(job) as run:
        run.wait_for("job.ready")
        pids = run.agent_pids()
        run.signal(signal.SIGINT)
        run.wait_for("job.stopping")
        time.sleep(0.3)
        assert run.process.poll() is None  # still waiting out the stop timeout
        started = time.monotonic()
        run.signal(signal.SIGINT)
        run.wait(timeout=10)
        assert time.monotonic() - started < 5
        assert run.named("job.stopped")[-1].get("killed") is True
        first, second = run.named("job.stopping")
        assert (first["reason"], first["signal"]) == ("signal", "SIGINT")
        assert (second["reason"], second["signal"]) == ("kill", "SIGINT")
        assert wait_gone(pids, 3.0) == []


def test_health_checks_disabled_means_ready_after_grace_period(tmp_path: Path) -> None:
    (port,) = free_ports(1)
    job = write(tmp_path, [agent("quiet", port, HEALTH_STATUS=500)], {"type": "dynamic"},
                health_check={"enabled": False})
    with supervisor(job) as run:
        ready = run.wait_for("agent.ready")
        assert ready["seconds"] >= 0.5
        run.signal(signal.SIGTERM)
        assert run.wait() == 0


def test_monitor_emits_job_health(tmp_path: Path) -> None:
    (port,) = free_ports(1)
    job = write(tmp_path, [agent("one", port)], {"type": "dynamic"})
    with supervisor(job, "--monitor", "0.3") as run:
        run.wait_for("job.ready")
        health = run.wait_for("job.health", where=lambda e: e["agents"].get("one") == "ready")
        assert health["counts"] == {"ready": 1}
        run.signal(signal.SIGTERM)
        assert run.wait() == 0


def test_unsupported_target_is_refused_with_a_position(tmp_path: Path) -> None:
    (port,) = free_ports(1)
    remote = agent("far", port)
    remote["deployment"] = {"target": "kubernetes"}
    job = write(tmp_path, [remote], {"type": "dynamic"})
    result = subprocess.run(agentsup_command("start", str(job)), capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 2
    assert "agents[0].deployment.target" in result.stderr
    assert "not supported" in result.stderr
    assert result.stdout == ""


def test_invalid_job_file_exits_2_without_traceback(tmp_path: Path) -> None:
    job = tmp_path / "bad.yaml"
    job.write_text("job: {name: x}\nagents: []\ntopology: {type: mesh}\n")
    result = subprocess.run(agentsup_command("start", str(job)), capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert f"{job}:2:" in result.stderr


def test_missing_working_directory_fails_cleanly(tmp_path: Path) -> None:
    (port,) = free_ports(1)
    spec = agent("lost", port)
    spec["deployment"] = {"workdir": "does-not-exist"}
    job = write(tmp_path, [spec], {"type": "dynamic"})
    with supervisor(job) as run:
        assert run.wait() == 1
        failed = run.wait_for("agent.failed")
        assert "does-not-exist" in failed["reason"]
        assert "Traceback" not in run.stderr_text()
    assert not os.path.exists(tmp_path / "does-not-exist")


def test_a_signal_during_the_checks_before_start_stops_cleanly(tmp_path: Path) -> None:
    """SIGTERM while preflight waits on an SSH host that never answers: exit 0 at once."""
    (port,) = free_ports(1)
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()  # accepts, never says a word: the SSH handshake waits
    spec = agent("far", port)
    spec["deployment"] = {"target": "remote", "host": "127.0.0.1",
                          "port": silent.getsockname()[1]}
    job = write(tmp_path, [spec], {"type": "dynamic"}, ssh={"timeout": 60})
    try:
        with supervisor(job) as run:
            run.wait_for("plan.resolved")
            time.sleep(1.0)
            assert run.process.poll() is None
            started = time.monotonic()
            run.signal(signal.SIGTERM)
            assert run.wait(timeout=15) == 0
            assert time.monotonic() - started < 10
            assert run.events[-1]["event"] == "job.stopped"
            assert run.named("job.stopping")[0]["signal"] == "SIGTERM"
            assert not run.named("agent.started")
            assert "Traceback" not in run.stderr_text()
    finally:
        silent.close()


def test_a_signal_while_the_actors_are_made_stops_cleanly(tmp_path: Path) -> None:
    """SIGTERM part-way through making the agents' actor threads: a graceful stop.

    The job starts while its actors are made, so some agents may run already: each one
    that started is stopped and gone, and the exit is clean. (An actor thread that had
    started when a signal unwound the set-up, but was not yet known to the clean-up,
    once kept the process alive for good, every later signal ignored.) The signal goes
    in at several points of making 150 actors, one thread each. The agents are `sleep`,
    quick to start and to stop, so that six runs fit the time.
    """
    ports = free_ports(150)
    sleepers = [{"id": f"a{i}", "command": ["sleep", "60"], "config": {"port": port}}
                for i, port in enumerate(ports)]
    job = write(tmp_path, sleepers, {"type": "dynamic"}, health_check={"enabled": False})
    for threads in (20, 35, 50, 65, 80, 95):
        with supervisor(job) as run:
            run.wait_for("plan.resolved")
            tasks = Path(f"/proc/{run.process.pid}/task")
            deadline = time.monotonic() + 30
            while (seen := len(list(tasks.iterdir()))) < threads:
                assert time.monotonic() < deadline, (
                    f"the actors were never made: {seen} threads, waiting for {threads}; "
                    f"exit code {run.process.poll()}; last events "
                    f"{[e['event'] for e in run.events[-5:]]}; stderr {run.stderr_text()!r}"
                )
                time.sleep(0.0002)
            run.signal(signal.SIGTERM)
            assert run.wait(timeout=60) == 0, f"signalled at {threads} threads"
            assert run.events[-1]["event"] == "job.stopped"
            assert run.named("job.stopping")[0]["signal"] == "SIGTERM"
            started = {e["agent"] for e in run.named("agent.started")}
            assert started <= {e["agent"] for e in run.named("agent.stopped")}
            assert wait_gone(run.agent_pids(), 5.0) == []
            assert "Traceback" not in run.stderr_text()
