"""A stop signal while `start` still loads the job file: exit 0, as for a running job.

The job file is a FIFO that the test holds open without writing, so the CLI is known
to be inside the load (blocked reading it) when the signal arrives: no timing guess.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

from tests.clirun import agentsup_command

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP,
                                    signal.SIGQUIT],
                         ids=["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT"])
def test_a_stop_signal_during_the_load_is_a_clean_stop(tmp_path: Path, signum: int) -> None:
    fifo = tmp_path / "job.yaml"
    os.mkfifo(fifo)
    cli = subprocess.Popen(agentsup_command("start", str(fifo), "--log-format", "json"),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # Opening the write end blocks until the CLI opens the file to read it.
        writer = os.open(fifo, os.O_WRONLY)
        try:
            cli.send_signal(signum)
            try:
                out, err = cli.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                pytest.fail(f"the CLI did not end after {signum!r}: {_signal_state(cli.pid)}")
        finally:
            os.close(writer)
    finally:
        if cli.poll() is None:
            cli.kill()
            cli.wait()
    assert cli.returncode == 0, err
    assert "Traceback" not in err
    assert out == ""  # nothing ran, so there is nothing to report


def _signal_state(pid: int) -> str:
    """What the kernel says of a process that did not end on a signal: which signals it
    blocks, ignores, catches and has pending, and where it waits."""
    status = Path(f"/proc/{pid}/status").read_text().splitlines()
    wanted = ("State", "SigPnd", "ShdPnd", "SigBlk", "SigIgn", "SigCgt")
    lines = [line for line in status if line.split(":")[0] in wanted]
    wchan = Path(f"/proc/{pid}/wchan").read_text()
    threads = len(list(Path(f"/proc/{pid}/task").iterdir()))
    return "; ".join(lines) + f"; wchan {wchan}; {threads} threads"
