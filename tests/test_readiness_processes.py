"""Readiness of real agent processes with failed attempts kept in the probe loop: the
real CLI and a real agent (`agents/bootagent.py`) that listens late, never, or exits
while booting. Each outcome and its reason must be what the agent did."""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from typing import Any

import pytest
from clirun import free_ports, supervisor, write_job_document

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]

BOOT_AGENT = Path(__file__).parent / "agents" / "bootagent.py"


def job(tmp_path: Path, kind: str = "http", timeout: float = 15, **env: Any) -> Path:
    (port,) = free_ports(1)
    entry = {
        "id": "solo",
        "command": [sys.executable, str(BOOT_AGENT)],
        "config": {"port": port},
        "deployment": {"environment": {k: str(v) for k, v in env.items()}},
        "health_check": {"type": kind},
    }
    return write_job_document(tmp_path, [entry], {"type": "dynamic"}, interval=0.2,
                              timeout=timeout, restart={"policy": "no"})


@pytest.mark.parametrize("kind", ["http", "tcp"])
def test_an_agent_that_listens_late_becomes_ready(tmp_path: Path, kind: str) -> None:
    with supervisor(job(tmp_path, kind, LISTEN_AFTER=1.2)) as run:
        ready = run.wait_for("agent.ready")
        run.wait_for("job.ready")
        assert float(ready["seconds"]) >= 1.2  # not before it listened
        run.signal(signal.SIGTERM)
        assert run.wait() == 0


def test_an_agent_that_never_listens_times_out_with_the_refused_connect(
    tmp_path: Path,
) -> None:
    with supervisor(job(tmp_path, timeout=1.5, LISTEN_AFTER="never")) as run:
        failed = run.wait_for("job.failed")
        assert run.wait() == 1
        assert not run.named("agent.ready")
    reason = str(failed["reason"])
    assert "not ready within 1.5 s (last health check: cannot connect to" in reason
    assert "Connection refused" in reason


def test_an_agent_that_exits_while_booting_is_reported_exited(tmp_path: Path) -> None:
    with supervisor(job(tmp_path, timeout=15, LISTEN_AFTER="never", EXIT_AFTER=0.5)) as run:
        run.wait_for("job.failed")
        assert run.wait() == 1
        (exited,) = run.named("agent.exited")
        assert exited["exit_code"] == 3
        assert not run.named("agent.ready")
        assert "not ready within" not in str(run.named("job.failed")[0]["reason"])
