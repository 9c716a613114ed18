"""What a running job refuses, through the real CLI: `down` under its live supervisor,
a reload that needs a target the job was not started with, and a reload that would
start a local agent on a port another process listens on."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.clirun import (
    TEST_AGENT,
    agent_entry,
    agentsup_command,
    free_ports,
    pid_alive,
    supervisor,
    wait_gone,
    write_job_document,
)


def ctl(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(agentsup_command(*args), capture_output=True, text=True,
                          timeout=60, env={**os.environ, **(env or {})})


def agents_of(job: str) -> dict[str, dict[str, Any]]:
    result = ctl("status", job, "--json")
    assert result.returncode == 0, result.stderr
    return {a["id"]: a for a in json.loads(result.stdout)["agents"]}


def test_down_refuses_a_running_job_and_leaves_it_running(tmp_path: Path) -> None:
    hub, w = free_ports(2)
    job = write_job_document(
        tmp_path, [agent_entry("hub", hub), agent_entry("w", w)],
        {"type": "hub-spoke", "hub": "hub", "spokes": ["w"]})
    with supervisor(job) as run:
        run.wait_for("job.ready")
        before = agents_of("t")
        pids = [before["hub"]["pid"], before["w"]["pid"]]
        result = ctl("down", str(job), "--log-format", "json")
        assert result.returncode == 1
        assert result.stdout == ""
        assert result.stderr == (
            f"agentsup: job 't' is running (supervisor pid {run.process.pid}); "
            "`agentsup down` only removes what a stopped run left behind. Stop it "
            "with `agentsup stop t`, which removes what it created\n")
        after = agents_of("t")
        assert {a: s["pid"] for a, s in after.items()} == {"hub": pids[0], "w": pids[1]}
        assert {s["state"] for s in after.values()} == {"ready"}
        assert all(pid_alive(p) for p in pids)
        assert run.named("agent.stopping") == [] and run.named("job.stopping") == []

        assert ctl("stop", "t").returncode == 0
        assert run.wait() == 0
    assert wait_gone(pids, 5.0) == []
    # Once the supervisor is gone, `down` does its work again.
    done = ctl("down", str(job), "--log-format", "json")
    assert done.returncode == 0, done.stderr
    assert [json.loads(line)["event"] for line in done.stdout.splitlines()] == ["job.down"]


def test_down_after_a_killed_supervisor_is_not_refused(tmp_path: Path) -> None:
    (port,) = free_ports(1)
    job = write_job_document(tmp_path, [agent_entry("solo", port)], {"type": "dynamic"})
    with supervisor(job) as run:
        run.wait_for("job.ready")
        run.kill()  # SIGKILL: the kernel drops its lock, the lock file stays
    result = ctl("down", str(job), "--log-format", "json")
    assert result.returncode == 0, result.stderr
    assert "is running" not in result.stderr


def test_reload_that_needs_a_new_target_is_refused_and_changes_nothing(
    tmp_path: Path,
) -> None:
    hub, w = free_ports(2)
    agents = [agent_entry("hub", hub), agent_entry("w", w)]
    topology = {"type": "hub-spoke", "hub": "hub", "spokes": ["w"]}
    job = write_job_document(tmp_path, agents, topology)
    with supervisor(job) as run:
        run.wait_for("job.ready")
        before = agents_of("t")
        boxed = {"id": "db", "command": ["python3", "-c", "pass"], "config": {"port": w + 1},
                 "deployment": {"target": "container", "image": "some/image:1"}}
        write_job_document(tmp_path, [*agents, boxed],
                           {"type": "hub-spoke", "hub": "hub", "spokes": ["w", "db"]})
        mark = len(run.events)
        result = ctl("reload", "t")
        assert result.returncode == 1
        assert result.stdout == ""
        assert result.stderr == (
            "agentsup: agent 'db' would run on target 'container', which no agent of job "
            "'t' used when it started; a reload cannot add a target. Stop the job with "
            f"`agentsup stop t` and start it again with `agentsup start {job.resolve()}`\n")
        assert [e for e in run.events[mark:] if e.get("event") != "agent.output"] == []
        assert {a: s["pid"] for a, s in agents_of("t").items()} == {
            a: s["pid"] for a, s in before.items()}
        assert ctl("stop", "t").returncode == 0
        assert run.wait() == 0


def listener_on(port: int) -> socket.socket:
    """A socket listening on `port` that no agent of the job owns."""
    held = socket.socket()
    held.bind(("127.0.0.1", port))
    held.listen()
    return held


@pytest.mark.integration
def test_reload_onto_a_port_another_process_holds_is_refused_and_changes_nothing(
    tmp_path: Path,
) -> None:
    a, c = free_ports(2)
    job = write_job_document(tmp_path, [agent_entry("a", a)], {"type": "dynamic"})
    with listener_on(c) as foreign, supervisor(job) as run:
        run.wait_for("job.ready")
        before = agents_of("t")
        write_job_document(tmp_path, [agent_entry("a", a), agent_entry("c", c)],
                           {"type": "dynamic"})
        mark = len(run.events)
        result = ctl("reload", "t")
        assert result.returncode == 1
        assert result.stdout == ""
        assert result.stderr == (
            f"agentsup: port {c} of agent 'c' is already in use by another process; "
            "nothing was changed\n")
        assert [e for e in run.events[mark:] if e.get("event") != "agent.output"] == []
        after = agents_of("t")
        assert sorted(after) == ["a"]
        assert after["a"]["pid"] == before["a"]["pid"]
        assert after["a"]["state"] == "ready"
        assert pid_alive(before["a"]["pid"])
        assert run.process.poll() is None  # the job runs on

        # Refused, the job is as reloadable as before: with the port free, `c` comes up.
        foreign.close()
        result = ctl("reload", "t")
        assert result.returncode == 0, result.stderr
        assert result.stdout.splitlines() == ["added: c", "removed: -", "restarted: -"]
        assert agents_of("t")["a"]["pid"] == before["a"]["pid"]
        assert ctl("stop", "t").returncode == 0
        assert run.wait() == 0


@pytest.mark.integration
def test_reload_onto_ports_the_job_s_own_agents_hold_is_not_refused(tmp_path: Path) -> None:
    a, b = free_ports(2)
    topology = {"type": "dynamic"}
    job = write_job_document(tmp_path, [agent_entry("a", a), agent_entry("b", b)], topology)
    with supervisor(job) as run:
        run.wait_for("job.ready")
        before = agents_of("t")
        # a's command changes, its port stays: its own running process holds the port.
        unbuffered = {**agent_entry("a", a), "command": [sys.executable, "-u", str(TEST_AGENT)]}
        write_job_document(tmp_path, [unbuffered, agent_entry("b", b)], topology)
        result = ctl("reload", "t")
        assert result.returncode == 0, result.stderr
        assert result.stdout.splitlines() == ["added: -", "removed: -", "restarted: a"]
        middle = agents_of("t")
        assert middle["a"]["pid"] != before["a"]["pid"]
        assert middle["b"]["pid"] == before["b"]["pid"]
        assert {s["state"] for s in middle.values()} == {"ready"}

        # b goes and c takes its port, which b's process holds until the reload stops it.
        write_job_document(tmp_path, [unbuffered, agent_entry("c", b)], topology)
        result = ctl("reload", "t")
        assert result.returncode == 0, result.stderr
        assert result.stdout.splitlines() == ["added: c", "removed: b", "restarted: -"]
        after = agents_of("t")
        assert sorted(after) == ["a", "c"]
        assert after["a"]["pid"] == middle["a"]["pid"]
        assert after["c"]["state"] == "ready"
        assert after["c"]["url"] == f"http://localhost:{b}"
        assert wait_gone([before["b"]["pid"]], 5.0) == []
        assert ctl("stop", "t").returncode == 0
        assert run.wait() == 0
