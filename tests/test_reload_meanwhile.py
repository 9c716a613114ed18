"""A reload while other requests are under way, through the real CLI.

Each command runs as its own subprocess against a real `agentsup start`; the agents are
real processes serving HTTP. An agent is held back from readiness by its
`UNHEALTHY_FILE` (its /health answers 500 while the file exists), so every step waits
for an event, not for time.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path
from typing import Any

from tests.clirun import (
    Supervisor,
    agent_entry,
    agentsup_command,
    free_ports,
    supervisor,
    write_job_document,
)
from tests.test_control import agents_of, ctl


def pipeline_job(tmp_path: Path, ports: list[int], held: Path, b_mark: str = "1",
                 c_mark: str = "1") -> Path:
    """a -> b -> c; c is not ready while `held` exists. A reload that changes a mark
    changes that agent's launch."""
    a, b, c = ports
    return write_job_document(
        tmp_path,
        [agent_entry("a", a), agent_entry("b", b, MARK=b_mark),
         agent_entry("c", c, UNHEALTHY_FILE=held, MARK=c_mark)],
        {"type": "pipeline", "stages": ["a", "b", "c"]},
    )


def started(run: Supervisor, agent: str, after: int) -> dict[str, Any]:
    return run.wait_for("agent.started", where=lambda e: e["agent"] == agent, after=after)


def test_reload_starts_a_changed_caller_once_its_restarting_callee_is_ready(
    tmp_path: Path,
) -> None:
    """c restarts on request and is not ready yet when the reload, which changed b,
    comes to start b: b starts once c is ready, the reload and the restart answer, and
    b's run number goes on from its first launch."""
    ports, held = free_ports(3), tmp_path / "held"
    job = pipeline_job(tmp_path, ports, held)
    with supervisor(job) as run:
        run.wait_for("job.ready")
        held.touch()
        mark = len(run.events)
        restart = subprocess.Popen(agentsup_command("restart", "t", "c"), text=True,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   env=dict(os.environ))
        try:
            started(run, "c", mark)  # run 2 of c, held back from readiness
            pipeline_job(tmp_path, ports, held, b_mark="2")
            reload = subprocess.Popen(agentsup_command("reload", "t"), text=True,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      env=dict(os.environ))
            try:
                run.wait_for("agent.stopped", where=lambda e: e["agent"] == "b", after=mark)
                held.unlink()  # c gets ready now, outside the reload
                out, err = reload.communicate(timeout=60)
                assert reload.returncode == 0, err
                assert out.splitlines() == ["added: -", "removed: -", "restarted: b"]
            finally:
                reload.kill()
            out, err = restart.communicate(timeout=60)
            assert (restart.returncode, out.strip()) == (0, "c: ready"), err
        finally:
            restart.kill()
        after = run.events[mark:]
        order = [(e["event"], e["agent"]) for e in after
                 if e.get("event") in ("agent.ready", "agent.starting")]
        assert order == [("agent.ready", "c"), ("agent.starting", "b"), ("agent.ready", "b")]
        assert started(run, "b", mark)["run"] == 2
        assert {a: s["run"] for a, s in agents_of("t").items()} == {"a": 1, "b": 2, "c": 2}
        run.signal(signal.SIGTERM)
        assert run.wait() == 0


def test_a_stop_of_an_agent_the_reload_starts_ends_the_reload(tmp_path: Path) -> None:
    ports, held = free_ports(3), tmp_path / "held"
    job = pipeline_job(tmp_path, ports, held)
    with supervisor(job) as run:
        run.wait_for("job.ready")
        held.touch()  # c's new launch will not get ready
        pipeline_job(tmp_path, ports, held, c_mark="2")
        mark = len(run.events)
        reload = subprocess.Popen(agentsup_command("reload", "t"), text=True,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  env=dict(os.environ))
        try:
            assert started(run, "c", mark)["run"] == 2
            result = ctl("stop", "t", "c")
            assert (result.returncode, result.stdout.strip()) == (0, "c: stopped"), (
                result.stderr)
            out, err = reload.communicate(timeout=60)
        finally:
            reload.kill()
        assert reload.returncode == 1, err
        assert out.splitlines() == ["added: -", "removed: -", "restarted: c", "c: stopped"]
        assert run.wait_for("job.reloaded", after=mark)["level"] == "warning"
        assert agents_of("t")["c"]["state"] == "stopped"
        # the reload is over: the next one is taken, and a restart brings c back
        held.unlink()
        assert ctl("reload", "t").returncode == 0
        result = ctl("restart", "t", "c")
        assert (result.returncode, result.stdout.strip()) == (0, "c: ready"), result.stderr
        assert agents_of("t")["c"]["run"] == 3
        run.signal(signal.SIGTERM)
        assert run.wait() == 0


def test_restart_of_a_failed_agent_a_reload_fixed(tmp_path: Path) -> None:
    """An agent exits 3 under restart policy "no" and on_agent_failure continue; a
    reload fixes its environment, and a restart starts it and answers."""
    a, broken = free_ports(2)
    document = {"type": "dynamic"}

    def write(exit_code: str | None) -> Path:
        env = {"EXIT_AFTER": "0", "EXIT_CODE": exit_code} if exit_code else {"MARK": "2"}
        return write_job_document(
            tmp_path, [agent_entry("a", a), agent_entry("broken", broken, **env)], document,
            on_agent_failure="continue", restart={"policy": "no"})

    job = write("3")
    with supervisor(job) as run:
        run.wait_for("job.ready")
        run.wait_for("agent.failed")
        write(None)
        result = ctl("reload", "t")
        assert result.returncode == 0, result.stderr
        assert agents_of("t")["broken"]["state"] == "failed"
        result = ctl("restart", "t", "broken")
        assert (result.returncode, result.stdout.strip()) == (0, "broken: ready"), (
            result.stderr)
        assert agents_of("t")["broken"]["run"] == 2
        run.signal(signal.SIGTERM)
        assert run.wait() == 0
