"""What a running job refuses, through the real CLI: `down` under its live supervisor,
and a reload that needs a target the job was not started with."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from tests.clirun import (
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
