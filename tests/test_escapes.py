"""Nothing an agent starts outlives it, even processes that left its group and session.

The test agent double-forks a `setsid()` daemon that ignores SIGTERM and starts a helper
with `start_new_session=True`, then writes the pids of all three to a file. Every pid
written there must be gone after each way a run of the agent can end.
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from clirun import agent_entry, free_ports, pid_alive, supervisor, wait_gone, write_job_document

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]


def reported_pids(path: Path) -> list[list[int]]:
    """One [leader, daemon, helper] per run of an agent, in the order they started."""
    if not path.exists():
        return []
    return [[int(pid) for pid in line.split()] for line in path.read_text().splitlines()]


def escaping_job(tmp_path: Path, pids_file: Path, **env: object) -> Path:
    first, second = free_ports(2)
    return write_job_document(
        tmp_path,
        [
            agent_entry("a", first, ESCAPE_PIDS_FILE=pids_file, **env),
            agent_entry("b", second, ESCAPE_PIDS_FILE=pids_file, **env),
        ],
        {"type": "mesh"},
        name="escapes",
    )


def all_alive(runs: list[list[int]]) -> bool:
    return all(pid_alive(pid) for run in runs for pid in run)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_escaped_daemons_end_with_a_graceful_stop(tmp_path: Path, signum: int) -> None:
    pids_file = tmp_path / "pids"
    with supervisor(escaping_job(tmp_path, pids_file)) as run:
        run.wait_for("job.ready")
        runs = reported_pids(pids_file)
        assert len(runs) == 2 and all_alive(runs)
        run.signal(signum)
        assert run.wait() == 0
    flat = [pid for pids in runs for pid in pids]
    assert wait_gone(flat, 10.0) == []
    assert run.named("job.stopped")[-1]["exit_code"] == 0


def test_escaped_daemons_end_when_the_supervisor_is_sigkilled(tmp_path: Path) -> None:
    pids_file = tmp_path / "pids"
    with supervisor(escaping_job(tmp_path, pids_file)) as run:
        run.wait_for("job.ready")
        runs = reported_pids(pids_file)
        assert len(runs) == 2 and all_alive(runs)
        run.process.kill()  # the supervisor alone, not its reaper
        run.wait()
        flat = [pid for pids in runs for pid in pids]
        assert wait_gone(flat, 10.0) == []


def test_escaped_daemons_of_every_crashed_run_end(tmp_path: Path) -> None:
    pids_file = tmp_path / "pids"
    port, = free_ports(1)
    job = write_job_document(
        tmp_path,
        [agent_entry("crasher", port, ESCAPE_PIDS_FILE=pids_file, EXIT_AFTER=0.3)],
        {"type": "mesh"},
        name="escapes",
        restart={"policy": "on-failure", "max_restarts": 3, "window": 60,
                 "backoff": {"initial": 0.2, "factor": 1, "max": 0.2}},
    )
    with supervisor(job) as run:
        run.wait_for("agent.failed", timeout=60)
        assert run.wait() == 1
    runs = reported_pids(pids_file)
    assert len(runs) == 4  # the first run and three restarts
    assert wait_gone([pid for pids in runs for pid in pids], 10.0) == []


def test_failure_of_one_agent_takes_its_daemons_while_the_job_runs_on(tmp_path: Path) -> None:
    pids_file = tmp_path / "pids"
    good, bad = free_ports(2)
    job = write_job_document(
        tmp_path,
        [
            agent_entry("good", good, ESCAPE_PIDS_FILE=pids_file),
            agent_entry("bad", bad, ESCAPE_PIDS_FILE=pids_file, EXIT_AFTER=1.5),
        ],
        {"type": "mesh"},
        name="escapes",
        restart={"policy": "no"},
        on_agent_failure="continue",
    )
    with supervisor(job) as run:
        run.wait_for("agent.failed")
        started = {e["agent"]: e["pid"] for e in run.named("agent.started")}
        by_leader = {pids[0]: pids for pids in reported_pids(pids_file)}
        bad_pids, good_pids = by_leader[started["bad"]], by_leader[started["good"]]
        assert wait_gone(bad_pids, 10.0) == []
        assert all(pid_alive(pid) for pid in good_pids)
        run.signal(signal.SIGTERM)
        assert run.wait() == 0
    assert wait_gone(good_pids, 10.0) == []


def test_escaped_daemons_end_when_a_second_signal_kills_everything(tmp_path: Path) -> None:
    pids_file = tmp_path / "pids"
    job = escaping_job(tmp_path, pids_file, IGNORE_TERM=1)
    with supervisor(job) as run:
        run.wait_for("job.ready")
        runs = reported_pids(pids_file)
        assert len(runs) == 2 and all_alive(runs)
        run.signal(signal.SIGTERM)
        run.wait_for("job.stopping")
        run.signal(signal.SIGTERM)
        assert run.wait() == 0
        assert run.named("job.stopped")[-1]["killed"] is True
    assert wait_gone([pid for pids in runs for pid in pids], 10.0) == []
