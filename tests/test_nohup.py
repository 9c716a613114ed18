"""`nohup agentsup start`: a hangup leaves the job running, and the agents do not inherit
the ignored SIGHUP.

Runs the real `nohup` program in front of the real CLI. SIGHUP and SIGTERM are sent
together: a supervisor that took the SIGHUP would stop with `"signal": "SIGHUP"`, so
the stop's own event says which one it acted on, with no waiting for something not
to happen.
"""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path

import pytest
from clirun import agent_entry, free_ports, supervisor, write_job_document

pytestmark = [
    pytest.mark.integration,
    pytest.mark.timeout(60),
    pytest.mark.skipif(shutil.which("nohup") is None, reason="needs nohup (coreutils)"),
]

SIGHUP_BIT = 1 << (signal.SIGHUP - 1)


def ignored_mask(pid: int) -> int:
    """The signals `pid` ignores, from the kernel's own record of it."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigIgn:"):
            return int(line.split()[1], 16)
    raise AssertionError(f"no SigIgn line for {pid}")


def test_a_hangup_under_nohup_leaves_the_job_running(tmp_path: Path) -> None:
    port, = free_ports(1)
    job = write_job_document(tmp_path, [agent_entry("a", port)], {"type": "mesh"})
    with supervisor(job, prefix=("nohup",)) as run:
        run.wait_for("job.ready")
        agent_pid = run.wait_for("agent.started")["pid"]
        # nohup execs the CLI, so the process is agentsup itself.
        assert ignored_mask(run.process.pid) & SIGHUP_BIT == 0, "agentsup must catch it"
        assert ignored_mask(agent_pid) & SIGHUP_BIT == 0, "the agent inherited SIG_IGN"
        os.kill(run.process.pid, signal.SIGHUP)
        os.kill(run.process.pid, signal.SIGTERM)
        assert run.wait() == 0
        stopping = run.named("job.stopping")
        assert [event["signal"] for event in stopping] == ["SIGTERM"]
        assert run.named("job.stopped")[0]["exit_code"] == 0


def test_without_nohup_a_hangup_still_stops_the_job(tmp_path: Path) -> None:
    port, = free_ports(1)
    job = write_job_document(tmp_path, [agent_entry("a", port)], {"type": "mesh"})
    with supervisor(job) as run:
        run.wait_for("job.ready")
        os.kill(run.process.pid, signal.SIGHUP)
        # Waited for before the next signal: two signals sent back to back may reach a
        # process of several threads in either order.
        stopping = run.wait_for("job.stopping")
        os.kill(run.process.pid, signal.SIGTERM)
        assert run.wait() == 0
        # The first signal stops it gracefully; the second one kills what is left.
        assert stopping["signal"] == "SIGHUP"


def test_a_hangup_under_nohup_while_the_file_loads_is_ignored(tmp_path: Path) -> None:
    """The CLI's own handlers, before the job's, leave a nohup'd SIGHUP ignored too. The
    job file is a FIFO, so the CLI is known to be inside the load when the signal comes."""
    port, = free_ports(1)
    written = write_job_document(tmp_path, [agent_entry("a", port)], {"type": "mesh"})
    text = written.read_bytes()
    written.unlink()
    os.mkfifo(written)
    with supervisor(written, prefix=("nohup",)) as run:
        writer = os.open(written, os.O_WRONLY)  # returns once the CLI opened it to read
        try:
            os.kill(run.process.pid, signal.SIGHUP)
            os.write(writer, text)
        finally:
            os.close(writer)
        run.wait_for("job.ready")
        os.kill(run.process.pid, signal.SIGTERM)
        assert run.wait() == 0
        assert [event["signal"] for event in run.named("job.stopping")] == ["SIGTERM"]
