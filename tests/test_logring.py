"""The output ring behind `agentsup logs`: how much it keeps and how followers see it."""

from __future__ import annotations

import threading

from agentsup.control.logring import FOLLOW_BACKLOG, LINE_COST, Line, LogRing, Missed


def test_keeps_the_last_lines_of_each_agent_in_arrival_order() -> None:
    ring = LogRing(keep=1000)
    for i in range(1500):
        ring.add("a", "stdout", f"a{i}")
        if i % 3 == 0:
            ring.add("b", "stderr", f"b{i}")
    a_lines = [line.line for line in ring.tail(["a"], 5000)]
    assert a_lines == [f"a{i}" for i in range(500, 1500)]
    merged = [line.line for line in ring.tail(["a", "b"], 2)]
    assert merged == ["b1494", "b1497", "a1498", "a1499"]
    assert ring.tail(["a"], 0) == [] and ring.tail(["nobody"], 3) == []


def test_a_follower_gets_the_tail_then_every_new_line_of_its_agents_only() -> None:
    ring = LogRing()
    ring.add("a", "stdout", "old")
    tail, follower = ring.tail_and_follow(["a"], 10)
    ring.add("b", "stdout", "other")
    ring.add("a", "stderr", "new")
    assert [line.line for line in tail] == ["old"]
    assert [entry.to_json() for entry in follower.take(0)] == [
        {"agent": "a", "stream": "stderr", "line": "new"}]
    assert follower.take(0) == []
    follower.close()
    ring.add("a", "stdout", "after close")
    assert follower.take(0) == []


def test_an_agent_asked_for_twice_gives_its_lines_once() -> None:
    ring = LogRing()
    for i in range(3):
        ring.add("a", "stdout", f"a{i}")
        ring.add("b", "stdout", f"b{i}")
    once = [line.line for line in ring.tail(["a", "b"], 10)]
    assert [line.line for line in ring.tail(["a", "b", "a"], 10)] == once
    assert [line.line for line in ring.tail(["a", "a"], 2)] == ["a1", "a2"]


def test_a_follower_that_falls_behind_is_told_how_many_lines_it_missed_and_where() -> None:
    ring = LogRing()
    _, follower = ring.tail_and_follow(["a", "b"], 0)
    text = "x" * (1000 - LINE_COST)  # a line counts for 1000 bytes
    total = FOLLOW_BACKLOG // 1000 + 50
    ring.add_lines("a", "stdout", [text] * total)
    ring.add_lines("b", "stdout", ["b0", "b1"])  # no room: missed too
    first = follower.take(0)
    assert all(isinstance(e, Line) for e in first)
    assert len(first) == -(-FOLLOW_BACKLOG // 1000)  # up to the first line past the limit
    ring.add_lines("a", "stdout", ["later"])
    # The count comes first, where the lines went missing, then what followed.
    assert follower.take(0) == [Missed("a", total - len(first)), Missed("b", 2),
                                Line("a", "stdout", "later", total + 3)]
    follower.close()


def test_a_follower_of_every_agent_gets_agents_that_appear_later() -> None:
    ring = LogRing()
    ring.add("a", "stdout", "old")
    tail, follower = ring.tail_and_follow(["a"], 10, every=True)
    ring.add("new", "stdout", "hello")
    assert [line.line for line in tail] == ["old"]
    assert [(e.agent, e.line) for e in follower.take(0) if isinstance(e, Line)] == [
        ("new", "hello")]
    follower.close()


def test_the_end_wakes_each_follower_and_waits_until_it_has_taken_the_last_lines() -> None:
    ring = LogRing()
    _, follower = ring.tail_and_follow(["a"], 0)
    taken: list[Line | Missed] = []
    started = threading.Event()

    def reader() -> None:  # as a `logs -f` handler: take until the end, then close
        started.set()
        while not ring.ended:
            taken.extend(follower.take(timeout=3600))
        taken.extend(follower.take(0))
        follower.close()

    thread = threading.Thread(target=reader)
    thread.start()
    started.wait()
    ring.add("a", "stdout", "last")
    assert ring.end_followers(timeout=30)  # woken at once, not after its hour
    thread.join()
    assert [entry.line for entry in taken if isinstance(entry, Line)] == ["last"]
    assert follower.take(timeout=3600) == []  # after the end nothing waits


def test_the_end_gives_up_on_a_follower_that_never_closes() -> None:
    ring = LogRing()
    ring.tail_and_follow(["a"], 0)
    assert not ring.end_followers(timeout=0.05)
