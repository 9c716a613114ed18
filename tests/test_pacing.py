"""The pacing of a burst of local spawns.

The policy (`SpawnPacer`) is replayed against a fake clock and a fake count of runnable
tasks, as the hub thread would ask it. The hub is then run with real processes and a
count that always says the machine is busy: a test cannot make this machine's own count
reliably high or low, and the point is what the hub does under either answer (every
spawn still made, each caller told of its spawn before the process's output and exit,
a close that leaves nothing waiting).
"""

from __future__ import annotations

import sys
import threading
from concurrent.futures import Future
from pathlib import Path

import pytest

from agentsup.runners._pacing import (
    BURST_GAP,
    PACE_LOOK,
    PACE_WAIT,
    REPORT_EVERY,
    RunnableCount,
    SpawnPacer,
)
from agentsup.runners._process import ProcessHandle
from agentsup.runners.base import ExitStatus, RunnerError, Stream
from agentsup.runners.local import LocalHub


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Count:
    """The machine's runnable tasks, as the test sets them; counts the looks."""

    def __init__(self, value: int | None) -> None:
        self.value = value
        self.looks = 0

    def __call__(self) -> int | None:
        self.looks += 1
        return self.value


def pacer(count: Count, clock: Clock) -> SpawnPacer[str, str]:
    return SpawnPacer(runnable=count, cores=2, clock=clock)


def test_the_first_spawn_of_a_burst_goes_at_once_however_busy_the_machine() -> None:
    clock, count = Clock(), Count(50)
    paced = pacer(count, clock)
    paced.add("a")
    assert paced.take() == "a"
    assert count.looks == 0
    clock.now += BURST_GAP * 1.5  # long enough after: a burst of its own
    paced.add("b")
    assert paced.take() == "b"
    assert count.looks == 0


def test_a_spawn_in_a_burst_waits_while_more_tasks_run_than_there_are_cores() -> None:
    clock, count = Clock(), Count(3)
    paced = pacer(count, clock)
    for name in "abc":
        paced.add(name)
    assert paced.take() == "a"
    assert paced.take() is None  # 3 runnable on 2 cores
    assert paced.timeout() == PACE_LOOK
    clock.now += PACE_LOOK
    count.value = 2
    assert paced.take() == "b"
    assert paced.take() == "c"  # 2 runnable on 2 cores


def test_a_waiting_spawn_goes_after_the_longest_wait_however_busy() -> None:
    clock, count = Clock(), Count(40)
    paced = pacer(count, clock)
    paced.add("a")
    paced.add("b")
    paced.add("c")
    assert paced.take() == "a"
    looks = 0
    while (taken := paced.take()) is None:
        clock.now += PACE_LOOK
        looks += 1
        assert looks <= PACE_WAIT / PACE_LOOK + 1
    assert taken == "b"
    assert looks >= PACE_WAIT / PACE_LOOK - 1
    # The next one's wait starts afresh.
    assert paced.take() is None


def test_without_a_count_nothing_waits() -> None:
    clock, count = Clock(), Count(None)
    paced = pacer(count, clock)
    for name in "abc":
        paced.add(name)
    assert [paced.take(), paced.take(), paced.take(), paced.take()] == ["a", "b", "c", None]


def test_callers_are_told_when_nothing_waits_or_every_report_interval() -> None:
    clock, count = Clock(), Count(10)
    paced = pacer(count, clock)
    for name in "abc":
        paced.add(name)
    first = paced.take()
    assert first == "a"
    paced.spawned("a", "handle-a")
    assert paced.answers() == []  # b and c are still to come
    assert paced.timeout() == PACE_LOOK
    clock.now += REPORT_EVERY * 1.01
    assert paced.answers() == [("a", "handle-a")]
    count.value = 0
    taken = paced.take()
    assert taken == "b"
    paced.spawned("b", "handle-b")
    assert paced.answers(now=True) == [("b", "handle-b")]  # the hub asks for all at once
    assert paced.take() == "c"
    paced.spawned("c", "handle-c")
    assert paced.answers() == [("c", "handle-c")]  # the last of the burst
    assert paced.timeout() is None


def test_held_answers_set_the_timeout_once_nothing_waits_to_be_spawned() -> None:
    clock, count = Clock(), Count(10)
    paced = pacer(count, clock)
    paced.add("a")
    paced.add("b")
    assert paced.take() == "a"
    paced.spawned("a", "handle-a")
    clock.now += REPORT_EVERY / 4
    assert paced.drop_waiting() == ["b"]
    assert paced.timeout() == pytest.approx(REPORT_EVERY * 3 / 4)
    assert paced.answers() == [("a", "handle-a")]


def test_the_kernel_count_includes_the_caller_and_is_read_from_one_descriptor() -> None:
    count = RunnableCount()
    try:
        looks = [count(), count()]
    finally:
        count.close()
    assert all(look is not None and look >= 1 for look in looks)
    assert count() is None  # closed


# ---------------------------------------------------------------------- the real hub


class Order:
    """What happened to each process, in the order the hub did it."""

    def __init__(self) -> None:
        self.items: list[tuple[str, int]] = []
        self.lock = threading.Lock()
        self.exits = threading.Semaphore(0)

    def add(self, what: str, pid: int) -> None:
        with self.lock:
            self.items.append((what, pid))


@pytest.mark.integration
@pytest.mark.timeout(60)
def test_a_busy_burst_spawns_everything_and_tells_each_launch_before_its_output(
    tmp_path: Path,
) -> None:
    busy = Count(10_000)
    hub = LocalHub(runnable=busy)
    order = Order()
    futures: list[Future[ProcessHandle]] = []
    try:
        for number in range(8):

            def output(stream: Stream, text: str, part: bool, continued: bool) -> None:
                order.add(f"out {text}", int(text.split()[1]))

            def exited(status: ExitStatus, number: int = number) -> None:
                order.add(f"exit {status.exit_code}", number)
                order.exits.release()

            future = hub.spawn_soon(
                (sys.executable, "-S", "-c", f"import os; print('pid', os.getpid()); "
                 f"raise SystemExit({number})"),
                {}, tmp_path, output, exited,
            )
            future.add_done_callback(
                lambda done: order.add("told", done.result().pid))
            futures.append(future)
        for _ in futures:
            assert order.exits.acquire(timeout=30)
    finally:
        hub.close()
    handles = [future.result() for future in futures]
    assert sorted(handle.exit_status.exit_code for handle in handles  # type: ignore[union-attr]
                  ) == list(range(8))
    assert busy.looks >= 1  # the spawns after the first asked how busy the machine is
    items = order.items
    for handle in handles:
        told = items.index(("told", handle.pid))
        assert told < items.index((f"out pid {handle.pid}", handle.pid))
    # Until the burst's last spawn the hub reads no output at all.
    last_told = max(index for index, (what, _) in enumerate(items) if what == "told")
    assert all(not what.startswith(("out", "exit")) for what, _ in items[:last_told])
    # Every process's exit came after its output, and so after its launch was told.
    assert sum(1 for what, _ in items if what.startswith("exit")) == 8


@pytest.mark.integration
@pytest.mark.timeout(60)
def test_closing_during_a_busy_burst_answers_every_caller(tmp_path: Path) -> None:
    hub = LocalHub(runnable=Count(10_000))
    futures = [
        hub.spawn_soon((sys.executable, "-S", "-c", "import time; time.sleep(60)"), {},
                       tmp_path, lambda *_: None, lambda _status: None)
        for _ in range(20)
    ]
    futures[0].result(timeout=10)  # told within REPORT_EVERY, the rest still waiting
    hub.close(timeout=20)
    spawned = [future.result() for future in futures if future.exception(timeout=10) is None]
    refused = [future.exception() for future in futures if future.exception() is not None]
    assert len(spawned) + len(refused) == 20
    assert spawned  # the first of the burst never waits
    assert all(isinstance(error, RunnerError) for error in refused)
    assert not any(handle.running for handle in spawned)  # killed and reaped


def test_a_hurried_burst_spawns_the_rest_at_once_and_the_next_burst_is_paced_again() -> None:
    clock, count = Clock(), Count(50)
    paced = pacer(count, clock)
    for name in "abcd":
        paced.add(name)
    assert paced.take() == "a"
    assert paced.take() is None  # busy: b waits
    paced.hurry()  # an agent is being stopped
    assert paced.timeout() == 0.0
    looks = count.looks
    assert [paced.take(), paced.take(), paced.take()] == ["b", "c", "d"]
    assert count.looks == looks  # nobody asked how busy the machine is
    assert not paced.hurried
    clock.now += BURST_GAP * 1.5  # a burst of its own
    paced.add("e")
    paced.add("f")
    assert paced.take() == "e"
    assert paced.take() is None  # paced again


def test_hurrying_when_nothing_waits_leaves_the_next_burst_paced() -> None:
    clock, count = Clock(), Count(50)
    paced = pacer(count, clock)
    paced.hurry()
    assert not paced.hurried
    paced.add("a")
    paced.add("b")
    assert paced.take() == "a"
    assert paced.take() is None
