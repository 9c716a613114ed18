"""The output ring behind `agentsup logs`: how much it keeps and how followers see it."""

from __future__ import annotations

from agentsup.control.logring import LogRing


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
    assert follower.lines.get_nowait().to_json() == {"agent": "a", "stream": "stderr",
                                                     "line": "new"}
    assert follower.lines.empty()
    follower.close()
    ring.add("a", "stdout", "after close")
    assert follower.lines.empty()


def test_an_agent_asked_for_twice_gives_its_lines_once() -> None:
    ring = LogRing()
    for i in range(3):
        ring.add("a", "stdout", f"a{i}")
        ring.add("b", "stdout", f"b{i}")
    once = [line.line for line in ring.tail(["a", "b"], 10)]
    assert [line.line for line in ring.tail(["a", "b", "a"], 10)] == once
    assert [line.line for line in ring.tail(["a", "a"], 2)] == ["a1", "a2"]
