"""Failure handling end to end: restart policies, liveness, budgets and escalation."""

from __future__ import annotations

import os
import random
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from clirun import agent_entry, free_ports, supervisor, wait_gone, write_job_document

pytestmark = [pytest.mark.integration]


def agent(agent_id: str, port: int, restart: dict[str, Any] | None = None,
          **env: Any) -> dict[str, Any]:
    return agent_entry(agent_id, port, restart, **env)


def write(tmp_path: Path, agents: list[dict[str, Any]], topology: dict[str, Any],
          **deployment: Any) -> Path:
    return write_job_document(
        tmp_path, agents, topology, name="failures", interval=0.3, **deployment
    )


@pytest.mark.timeout(60)
def test_crash_loop_is_restarted_max_restarts_times_then_fails_the_job(tmp_path: Path) -> None:
    good, crashing = free_ports(2)
    job = write(
        tmp_path,
        [agent("good", good), agent("crasher", crashing, EXIT_AFTER=0.05, EXIT_CODE=3)],
        {"type": "mesh"},
        restart={"policy": "on-failure", "max_restarts": 3, "window": 60,
                 "backoff": {"initial": 0.1, "factor": 2, "max": 0.3}},
    )
    with supervisor(job) as run:
        assert run.wait(timeout=40) == 1
        restarting = [e for e in run.named("agent.restarting") if e["agent"] == "crasher"]
        assert [e["attempt"] for e in restarting] == [1, 2, 3]
        assert [e["delay"] for e in restarting] == [0.1, 0.2, 0.3]
        exits = [e for e in run.named("agent.exited") if e["agent"] == "crasher"]
        assert len(exits) == 4 and all(e["exit_code"] == 3 for e in exits)
        failed = run.wait_for("agent.failed")
        assert failed["agent"] == "crasher"
        assert "restarted 3 times" in failed["reason"]
        assert failed["exits"] == ["exit code 3"] * 4
        assert "crasher" in run.wait_for("job.failed")["reason"]
        assert run.events[-1]["event"] == "job.stopped"
        assert wait_gone(run.agent_pids(), 3.0) == []


@pytest.mark.timeout(60)
def test_failing_health_with_live_process_is_killed_and_restarted(tmp_path: Path) -> None:
    (port,) = free_ports(1)
    flag = tmp_path / "sick"
    job = write(tmp_path, [agent("flaky", port, UNHEALTHY_FILE=flag)], {"type": "dynamic"})
    with supervisor(job) as run:
        run.wait_for("job.ready")
        first_pid = run.named("agent.started")[0]["pid"]
        flag.touch()
        unhealthy = run.wait_for("agent.unhealthy", timeout=10)
        assert unhealthy["failures"] == 2 and "HTTP 500" in unhealthy["error"]
        exited = run.wait_for("agent.exited")
        assert exited["signal"] == "SIGKILL"
        flag.unlink()
        run.wait_for("agent.restarting")
        ready = run.wait_for("agent.ready", where=lambda e: e["run"] == 2, timeout=20)
        assert ready["agent"] == "flaky"
        assert wait_gone([first_pid], 2.0) == []
        run.signal(signal.SIGTERM)
        assert run.wait() == 0


@pytest.mark.timeout(60)
def test_kill_9_under_always_is_seen_quickly_and_the_agent_comes_back(tmp_path: Path) -> None:
    (port,) = free_ports(1)
    job = write(tmp_path, [agent("victim", port)], {"type": "dynamic"},
                restart={"policy": "always", "backoff": {"initial": 0.1}})
    with supervisor(job) as run:
        run.wait_for("job.ready")
        pid = run.named("agent.started")[0]["pid"]
        killed_at = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        exited = run.wait_for("agent.exited", timeout=5)
        seen_after = time.monotonic() - killed_at
        assert exited["signal"] == "SIGKILL"
        assert seen_after < 1.0, f"exit seen after {seen_after:.3f} s"
        ready = run.wait_for("agent.ready", where=lambda e: e["run"] == 2, timeout=10)
        assert ready["url"] == f"http://localhost:{port}"
        run.signal(signal.SIGTERM)
        assert run.wait() == 0


@pytest.mark.timeout(60)
def test_continue_keeps_the_rest_running_and_sigterm_still_exits_0(tmp_path: Path) -> None:
    steady, doomed = free_ports(2)
    job = write(
        tmp_path,
        [agent("steady", steady),
         agent("doomed", doomed, restart={"policy": "no"}, EXIT_AFTER=1.5, EXIT_CODE=7)],
        {"type": "mesh"},
        on_agent_failure="continue",
    )
    with supervisor(job) as run:
        run.wait_for("job.ready")
        failed = run.wait_for("agent.failed", timeout=10)
        assert failed["agent"] == "doomed"
        time.sleep(1.0)
        assert run.process.poll() is None
        assert not run.named("job.failed")
        run.signal(signal.SIGTERM)
        assert run.wait() == 0
        stopped = {e["agent"] for e in run.named("agent.stopped")}
        assert stopped == {"steady", "doomed"}


@pytest.mark.timeout(60)
def test_restart_dependents_after_the_agent_is_ready_again(tmp_path: Path) -> None:
    hub, spoke = free_ports(2)
    job = write(
        tmp_path,
        [agent("caller", hub),
         agent("callee", spoke, restart={"restart_dependents": True,
                                         "backoff": {"initial": 0.1}})],
        {"type": "hub-spoke", "hub": "caller", "spokes": ["callee"]},
    )
    with supervisor(job) as run:
        run.wait_for("job.ready")
        callee_pid = next(e for e in run.named("agent.started") if e["agent"] == "callee")["pid"]
        os.kill(callee_pid, signal.SIGKILL)
        callee_ready = run.wait_for(
            "agent.ready", where=lambda e: e["agent"] == "callee" and e["run"] == 2
        )
        dependent_restart = run.wait_for(
            "agent.restarting", where=lambda e: e["agent"] == "caller"
        )
        assert dependent_restart["because"] == "callee"
        assert run.events.index(callee_ready) < run.events.index(dependent_restart)
        run.wait_for("agent.ready", where=lambda e: e["agent"] == "caller" and e["run"] == 2)
        run.signal(signal.SIGTERM)
        assert run.wait() == 0
        assert wait_gone(run.agent_pids(), 3.0) == []


@pytest.mark.timeout(150)
def test_chaos_random_kills_on_a_20_agent_job(tmp_path: Path) -> None:
    ports = free_ports(20)
    agents = [agent(f"a{i:02d}", port) for i, port in enumerate(ports)]
    job = write(
        tmp_path, agents, {"type": "mesh"},
        restart={"policy": "always", "max_restarts": 1000, "window": 60,
                 "backoff": {"initial": 0.05, "factor": 2, "max": 0.5}},
    )
    rng = random.Random(20261127)
    with supervisor(job) as run:
        run.wait_for("job.ready", timeout=60)
        kills: list[tuple[str, int]] = []
        deadline = time.monotonic() + 30.0
        while time.monotonic() < deadline:
            time.sleep(rng.uniform(0.1, 0.4))
            latest: dict[str, int] = {}
            for event in list(run.events):
                if event.get("event") == "agent.started":
                    latest[event["agent"]] = event["pid"]
            victim = rng.choice(sorted(latest))
            pid = latest[victim]
            if (victim, pid) in kills:
                continue  # already killed, its restart has not started yet
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                continue
            kills.append((victim, pid))
        assert len(kills) > 20

        def all_ready() -> bool:
            state: dict[str, str] = {}
            for event in list(run.events):
                name = event.get("event")
                if name in ("agent.ready", "agent.exited", "agent.restarting"):
                    state[event["agent"]] = name
            return len(state) == 20 and all(v == "agent.ready" for v in state.values())

        settle = time.monotonic() + 30
        while not all_ready() and time.monotonic() < settle:
            time.sleep(0.1)
        assert all_ready(), "not every agent is ready again after the chaos"
        started_pids = {(e["agent"], e["pid"]) for e in run.named("agent.started")}
        exits_by_agent: dict[str, int] = {}
        for event in run.named("agent.exited"):
            exits_by_agent[event["agent"]] = exits_by_agent.get(event["agent"], 0) + 1
        kills_by_agent: dict[str, int] = {}
        for victim, pid in kills:
            assert (victim, pid) in started_pids
            kills_by_agent[victim] = kills_by_agent.get(victim, 0) + 1
        assert exits_by_agent == kills_by_agent
        assert not run.named("agent.failed")
        pids = run.agent_pids()
        run.signal(signal.SIGTERM)
        assert run.wait(timeout=60) == 0
        assert wait_gone(pids, 5.0) == []
