"""How the hub sees exits where the kernel gives no pidfds, in-process.

`_process.open_pidfd` is set to its answer after a first ENOSYS, as on a kernel before
5.3 (tests/test_old_kernel.py has the real kernel say so, for the whole CLI). The agent
here leaves a child holding its pipes, so its exit shows only to the hub's periodic
look: one `waitid` for any child of the hub's thread. The reaper is such a child too:
killed, it waits as a zombie until the hub next writes to it, and the look finds it
first; the agent's exit must be found all the same.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentsup.runners import _process
from agentsup.runners.base import ExitStatus
from agentsup.runners.local import LocalHub, LocalRunner
from tests.test_local_runner import Recorder, spec

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalHub]:
    monkeypatch.setattr(_process, "_pidfds_missing", True)
    owned = LocalHub()
    yield owned
    owned.close()


def state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


def reaper_pid() -> int:
    """The hub's reaper: the child of this process that runs programs/reaper.py."""
    found = []
    for task in os.listdir(f"/proc/{os.getpid()}/task"):
        for child in Path(f"/proc/{os.getpid()}/task/{task}/children").read_text().split():
            if b"reaper" in Path(f"/proc/{child}/cmdline").read_bytes():
                found.append(int(child))
    assert len(found) == 1, found
    return found[0]


@pytest.mark.parametrize("reaper_dead", [False, True], ids=["reaper-alive", "reaper-a-zombie"])
def test_an_exit_whose_pipes_stay_open_is_seen(
    hub: LocalHub, tmp_path: Path, reaper_dead: bool
) -> None:
    go = tmp_path / "go"
    runner = LocalRunner(hub)
    recorder = Recorder()
    try:
        # `sleep` keeps the agent's stdout and stderr open after `sh` exits
        runner.start(spec("sh", "-c", f"echo up; sleep 30 & while [ ! -e {go} ]; "
                                      "do sleep 0.02; done; exit 3"),
                     recorder.on_output, recorder.on_exit)
        recorder.wait_lines(1)
        if reaper_dead:
            reaper = reaper_pid()
            os.kill(reaper, signal.SIGKILL)
            while state(reaper) != "Z":
                time.sleep(0.01)
        go.touch()
        assert recorder.wait_exit() == ExitStatus(exit_code=3)
        assert recorder.lines == [("stdout", "up")]
    finally:
        runner.stop(0)
