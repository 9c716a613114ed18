"""SIGQUIT (Ctrl-\\ on a terminal) kills the whole job at once, through the supervisor.

Left at its default, SIGQUIT ended agentsup on the spot: the reaper ended the local
agents, but nothing wrote `job.stopped`, anything that was not a local process (a
container, a remote agent) was left running, and the live view's terminal kept its
cursor hidden. Here the real CLI runs a job whose agents ignore SIGTERM under a long
`stop_timeout`, so only a kill at once ends it within the test's time.
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from tests.clirun import (
    agent_entry,
    agentsup_command,
    free_ports,
    supervisor,
    wait_gone,
    write_job_document,
)
from tests.terminal import Terminal

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]

STOP_TIMEOUT = 60
"""Far longer than any wait below: an ordered stop would not finish within them."""


def stubborn_job(tmp_path: Path) -> Path:
    first, second = free_ports(2)
    return write_job_document(
        tmp_path,
        [agent_entry("alpha", first, IGNORE_TERM=1), agent_entry("beta", second, IGNORE_TERM=1)],
        {"type": "mesh"},
        name="quit",
        stop_timeout=STOP_TIMEOUT,
        shutdown_timeout=STOP_TIMEOUT * 2,
    )


def test_sigquit_kills_every_agent_at_once_and_reports_it(tmp_path: Path) -> None:
    with supervisor(stubborn_job(tmp_path)) as run:
        run.wait_for("job.ready")
        pids = run.agent_pids()
        assert len(pids) == 2
        run.signal(signal.SIGQUIT)
        assert run.wait(timeout=20) == 0
        stopping = run.named("job.stopping")
        assert [(e["reason"], e.get("signal")) for e in stopping] == [("kill", "SIGQUIT")]
        assert run.named("agent.stopped") == []  # killed, not stopped in order
        stopped = run.named("job.stopped")
        assert len(stopped) == 1 and stopped[0]["killed"] is True
        assert stopped[0]["exit_code"] == 0
    assert wait_gone(pids, 10.0) == []


def test_ctrl_backslash_in_the_live_view_kills_the_job_and_gives_the_cursor_back(
    tmp_path: Path,
) -> None:
    job = stubborn_job(tmp_path)
    terminal = Terminal(agentsup_command("start", str(job))[1:], columns=100, lines=30)
    try:
        terminal.wait_for(lambda s: "running, 2 of 2 agents ready" in s)
        assert terminal.screen.cursor.hidden  # while the table is drawn
        terminal.type(b"\x1c")  # Ctrl-\
        assert terminal.wait(timeout=20) == 0
        text = terminal.text()
        assert "quit: stopped; 2 agents killed at once" in text, text
        assert "killed: SIGQUIT" in text, text
        assert not terminal.screen.cursor.hidden
    finally:
        terminal.close()
