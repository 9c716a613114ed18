"""The local hub obeys an `OutputFlow`: real agent processes, a flow the test drives.

The flow here is a stand-in for the stdout writer, so the test decides exactly when
reading must stop and go on; `test_flow_control.py` runs the real writer through the
CLI. While the flow says stop, an agent's pipes are not read, yet its exit is still
reported, after all the output it wrote.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from agentsup.runners.base import BatchOutput, ExitStatus, LaunchSpec, Stream
from agentsup.runners.lines import LineBatch
from agentsup.runners.local import LocalHub, LocalRunner

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


class HeldFlow:
    """Says stop from the first read on, until `release`; then wakes the hub."""

    def __init__(self) -> None:
        self.holding = True
        self.paced: list[str] = []
        self.wakes: list[Callable[[], None]] = []
        self._lock = threading.Lock()

    def pace_this_thread(self) -> None:
        self.paced.append(threading.current_thread().name)

    def paused(self) -> float | None:
        return 3600.0 if self.holding else None

    def on_drained(self, wake: Callable[[], None]) -> None:
        with self._lock:
            if self.holding:
                self.wakes.append(wake)
                return
        wake()

    def release(self) -> None:
        with self._lock:
            self.holding = False
            wakes, self.wakes = self.wakes, []
        for wake in wakes:
            wake()


class Seen:
    """Everything the hub hands over, with markers the test adds, in one order."""

    def __init__(self) -> None:
        self.items: list[str] = []
        self.cond = threading.Condition()

    def add(self, item: str) -> None:
        with self.cond:
            self.items.append(item)
            self.cond.notify_all()

    def lines(self, stream: Stream, batch: LineBatch) -> None:
        for text in batch.texts:
            self.add(text)

    def exited(self, status: ExitStatus) -> None:
        self.add(f"exit {status.exit_code}")

    def wait_for(self, item: str) -> None:
        with self.cond:
            assert self.cond.wait_for(lambda: item in self.items, 30), item


@pytest.fixture()
def hub() -> Iterator[LocalHub]:
    hub = LocalHub()
    yield hub
    hub.close()


def start(hub: LocalHub, tmp_path: Path, source: str, seen: Seen, flow: HeldFlow) -> LocalRunner:
    runner = LocalRunner(hub)
    spec = LaunchSpec("a", (sys.executable, "-c", source), {"FLAG": str(tmp_path / "flag")},
                      tmp_path)
    runner.start(spec, BatchOutput(seen.lines, flow), seen.exited)
    return runner


# Writes "first", waits until the test lets it go on, writes 2,000 more lines (about
# 20 KB, which the pipe holds), touches the flag, and exits with EXIT (or waits).
AGENT = """
import os, sys, time
print("first", flush=True)
while not os.path.exists(os.environ["FLAG"] + ".go"):
    time.sleep(0.01)
sys.stdout.write("".join(f"line {i}\\n" for i in range(2000)))
sys.stdout.flush()
open(os.environ["FLAG"], "w").close()
if "EXIT" in os.environ:
    sys.exit(int(os.environ["EXIT"]))
time.sleep(60)
"""


def test_an_exit_while_reading_is_held_comes_after_all_the_output(
    hub: LocalHub, tmp_path: Path
) -> None:
    seen, flow = Seen(), HeldFlow()
    start(hub, tmp_path, "import os; os.environ['EXIT'] = '3'\n" + AGENT, seen, flow)
    seen.wait_for("first")  # the hub read once, asked the flow, and holds from here
    (tmp_path / "flag.go").touch()
    seen.wait_for("exit 3")
    assert flow.holding and flow.paced == ["agentsup-local-hub"]
    assert seen.items == ["first", *(f"line {i}" for i in range(2000)), "exit 3"]


def test_held_pipes_are_read_again_once_the_flow_wakes_the_hub(
    hub: LocalHub, tmp_path: Path
) -> None:
    seen, flow = Seen(), HeldFlow()
    runner = start(hub, tmp_path, AGENT, seen, flow)
    seen.wait_for("first")
    (tmp_path / "flag.go").touch()
    flag = tmp_path / "flag"
    deadline = time.monotonic() + 30
    while not flag.exists():  # then the agent's lines are all in the pipe, unread
        assert time.monotonic() < deadline, "the agent did not write its lines"
        time.sleep(0.01)
    seen.add("released")
    flow.release()
    seen.wait_for("line 1999")
    assert seen.items == ["first", "released", *(f"line {i}" for i in range(2000))]
    runner.stop(5)
    assert seen.items[-1].startswith("exit")
