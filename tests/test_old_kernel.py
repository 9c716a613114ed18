"""Local agents on a kernel without pidfds (Linux before 5.3: RHEL 8, Debian 10), or
where a seccomp profile refuses them (Docker's before 20.10).

The real CLI runs under `oldkernel.py`, whose seccomp filter makes this kernel answer
`pidfd_open`, `pidfd_send_signal` and `pidfd_getfd` with ENOSYS, as an old one does,
for agentsup and everything it starts. Without pidfds every local launch failed
("cannot watch ...: Function not implemented"), and the daemons an agent left behind
were never signalled.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from clirun import agent_entry, free_ports, pid_alive, supervisor, wait_gone, write_job_document

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]

OLD_KERNEL = (sys.executable, str(Path(__file__).with_name("oldkernel.py")))


def test_the_old_kernel_here_has_no_pidfds() -> None:
    probe = subprocess.run(
        [*OLD_KERNEL, sys.executable, "-c",
         "import errno, os\n"
         "try:\n    os.pidfd_open(os.getpid())\n"
         "except OSError as exc:\n    print(errno.errorcode[exc.errno])"],
        capture_output=True, text=True, timeout=30, check=True)
    assert probe.stdout.strip() == "ENOSYS"


def reported_pids(path: Path) -> list[list[int]]:
    """[leader, daemon, helper] per run of an agent (tests/agents/testagent.py)."""
    return [[int(pid) for pid in line.split()] for line in path.read_text().splitlines()]


def test_agents_run_restart_and_stop_and_their_daemons_end(tmp_path: Path) -> None:
    pids_file = tmp_path / "pids"
    steady, crasher = free_ports(2)
    job = write_job_document(
        tmp_path,
        [agent_entry("steady", steady, ESCAPE_PIDS_FILE=pids_file),
         # Its daemon keeps the agent's pipes open after the leader exits: the exit is
         # only seen by looking for it (`runners._hub.EXIT_POLL`).
         agent_entry("crasher", crasher, ESCAPE_PIDS_FILE=pids_file, EXIT_AFTER=0.5,
                     restart={"policy": "on-failure", "max_restarts": 1, "window": 60,
                              "backoff": {"initial": 0.1, "factor": 1, "max": 0.1}})],
        {"type": "dynamic"},
        name="oldkernel",
    )
    with supervisor(job, prefix=OLD_KERNEL) as run:
        run.wait_for("job.ready")
        first_exit = run.wait_for("agent.exited", where=lambda e: e.get("agent") == "crasher")
        assert first_exit["exit_code"] == 1
        run.wait_for("agent.ready", where=lambda e: e.get("agent") == "crasher"
                     and e.get("run") == 2)
        # kill -9 of a leader whose daemon holds its pipes, seen all the same
        steady_pid = next(int(e["pid"]) for e in run.named("agent.started")
                          if e["agent"] == "steady")
        os.kill(steady_pid, signal.SIGKILL)
        killed = run.wait_for("agent.exited", where=lambda e: e.get("agent") == "steady")
        assert killed.get("signal") == "SIGKILL" or killed.get("exit_code") is None, killed
        run.signal(signal.SIGTERM)
        assert run.wait() == 0
    runs = reported_pids(pids_file)
    assert len(runs) >= 3  # steady, crasher, crasher again
    flat = [pid for pids in runs for pid in pids]
    assert wait_gone(flat, 10.0) == [], [pid for pid in flat if pid_alive(pid)]
    assert run.named("job.stopped")[-1]["exit_code"] == 0



def test_the_reaper_ends_the_daemons_of_a_sigkilled_supervisor(tmp_path: Path) -> None:
    pids_file = tmp_path / "pids"
    port, = free_ports(1)
    job = write_job_document(tmp_path, [agent_entry("a", port, ESCAPE_PIDS_FILE=pids_file)],
                             {"type": "dynamic"}, name="oldkernel")
    with supervisor(job, prefix=OLD_KERNEL) as run:
        run.wait_for("job.ready")
        runs = reported_pids(pids_file)
        assert len(runs) == 1 and all(pid_alive(pid) for pid in runs[0])
        run.process.kill()  # the supervisor alone: its reaper sees its stdin close
        run.wait()
        assert wait_gone(runs[0], 10.0) == []
