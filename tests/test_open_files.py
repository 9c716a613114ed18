"""The open-files limit: raised for a job that needs it, reported when it cannot be.

The real CLI is started with a lowered RLIMIT_NOFILE (as a login shell with `ulimit -n`
would give it) and the agents print the limit they inherited.
"""

from __future__ import annotations

import resource
import signal
from pathlib import Path

import pytest
from clirun import Supervisor, agent_entry, free_ports, supervisor, write_job_document

from agentsup.openfiles import wanted

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]

HARD = resource.getrlimit(resource.RLIMIT_NOFILE)[1]


def _inherited(run: Supervisor, agent_id: str) -> tuple[int, int]:
    event = run.wait_for(
        "agent.output",
        where=lambda e: e["agent"] == agent_id and (e.get("payload") or {}).get("kind") == "nofile",
    )
    return int(event["payload"]["soft"]), int(event["payload"]["hard"])


def _mesh(tmp_path: Path, count: int) -> Path:
    ports = free_ports(count)
    ids = [f"a{i}" for i in range(count)]
    agents = [agent_entry(agent_id, port, PRINT_NOFILE=1) for agent_id, port in zip(ids, ports,
                                                                                    strict=True)]
    return write_job_document(tmp_path, agents, {"type": "mesh", "agents": ids})


@pytest.mark.skipif(HARD != resource.RLIM_INFINITY and HARD < 1024,
                    reason="the hard limit here is too low to show a raise")
def test_a_job_larger_than_the_soft_limit_starts_and_its_agents_get_what_it_wants(
    tmp_path: Path,
) -> None:
    # 40 agents hold about 200 descriptors in the supervisor: more than a soft limit
    # of 96 allows, so without the raise some of them could not be started or checked.
    job = _mesh(tmp_path, 40)
    with supervisor(job, open_files=(96, HARD)) as run:
        run.wait_for("job.ready", timeout=60)
        assert _inherited(run, "a0") == (wanted(40), HARD)
        assert run.named("job.open_files") == []
        assert run.named("agent.exited") == [] and run.named("agent.restart_failed") == []
        run.signal(signal.SIGTERM)
        assert run.wait() == 0


def test_a_hard_limit_below_what_the_job_wants_is_reported_and_used(tmp_path: Path) -> None:
    job = _mesh(tmp_path, 3)
    with supervisor(job, open_files=(64, 200)) as run:
        warning = run.wait_for("job.open_files")
        assert warning["level"] == "warning"
        assert (warning["limit"], warning["wanted"]) == (200, wanted(3))
        assert "hard limit 200" in warning["reason"] and "ulimit -Hn" in warning["reason"]
        run.wait_for("job.ready")
        # before any agent starts, so the warning is read next to the job it concerns
        assert run.index_of("job.open_files") < run.index_of("stage.started")
        assert _inherited(run, "a1") == (200, 200)
        run.signal(signal.SIGTERM)
        assert run.wait() == 0


def test_a_soft_limit_already_high_enough_is_left_alone(tmp_path: Path) -> None:
    job = _mesh(tmp_path, 2)
    soft = wanted(2) + 100
    hard = HARD if HARD == resource.RLIM_INFINITY else max(HARD, soft)
    with supervisor(job, open_files=(soft, hard)) as run:
        run.wait_for("job.ready")
        assert _inherited(run, "a0") == (soft, hard)
        assert run.named("job.open_files") == []
        run.signal(signal.SIGTERM)
        assert run.wait() == 0
