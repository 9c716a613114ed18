"""The live view of a job with more agents than the terminal has room for.

The table takes at most its share of the terminal's height: the agents that need
attention come first, the rest are counted by state on its last line, and the lines
above the table stay in sight. A small job's table is as it always was.
"""

from __future__ import annotations

import io
import re
from typing import Any

from rich.console import Console

from agentsup.eventtext import Palette
from agentsup.jobview import JobView, table


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def many(count: int, stages: int = 1, **states: str) -> JobView:
    """`count` agents (agent00, agent01, ...) spread over `stages`, all ready but those
    named in `states` (agent id: failed, unhealthy, restarting, starting or pending)."""
    ids = [f"agent{number:02d}" for number in range(count)]
    per = -(-count // stages)
    view = JobView("many", clock=Clock())
    view.apply({"event": "job.loaded"})
    view.apply({"event": "plan.resolved",
                "stages": [ids[i:i + per] for i in range(0, count, per)],
                "agent_urls": {a: f"http://localhost:{18800 + n}" for n, a in enumerate(ids)}})
    for pid, agent in enumerate(ids, start=4000):
        state = states.get(agent, "ready")
        if state == "pending":
            continue
        events: list[dict[str, Any]] = [
            {"event": "agent.started", "agent": agent, "pid": pid, "host": "localhost"}]
        if state != "starting":
            events.append({"event": "agent.ready", "agent": agent,
                           "url": f"http://localhost:{18800 + int(agent[5:])}"})
        if state == "unhealthy":
            events.append({"event": "agent.unhealthy", "agent": agent, "failures": 3,
                           "error": "connection refused"})
        if state in ("restarting", "failed"):
            events += [{"event": "agent.exited", "agent": agent, "exit_code": 3},
                       {"event": "agent.restarting", "agent": agent, "attempt": 1,
                        "delay": 1.0}]
        if state == "failed":
            events.append({"event": "agent.failed", "agent": agent, "reason": "budget"})
        for event in events:
            view.apply(event)
    return view


def drawn(view: JobView, width: int, lines: int | None) -> list[str]:
    console = Console(file=io.StringIO(), width=width, color_system=None)
    with console.capture() as capture:
        console.print(table(view.snapshot(), Palette(), width, lines))
    return [line.rstrip() for line in capture.get().splitlines()]


def agents_in(lines: list[str]) -> list[tuple[str, str]]:
    found = [re.match(r"^(?:\d+)?\s+(agent\d\d)\s+(\w+)\s", line) for line in lines]
    return [(m.group(1), m.group(2)) for m in found if m]


def test_a_long_table_shows_the_agents_that_need_attention_and_counts_the_rest() -> None:
    view = many(60, agent05="starting", agent31="restarting", agent44="unhealthy",
                agent57="failed", agent59="starting")
    lines = drawn(view, 100, 19)
    assert len(lines) == 19  # the heading, 17 agents, the line for the rest
    shown = agents_in(lines)
    assert len(shown) == 17
    # every agent that needs attention is there, wherever it is in the job ...
    for agent, state in (("agent05", "starting"), ("agent31", "restarting"),
                         ("agent44", "unhealthy"), ("agent57", "failed"),
                         ("agent59", "starting")):
        assert (agent, state) in shown, lines
    # ... the rest of the room goes to the others in table order, and the table keeps
    # its order
    assert [agent for agent, _ in shown] == sorted(agent for agent, _ in shown)
    assert [a for a, s in shown if s == "ready"] == [f"agent{n:02d}" for n in range(13)
                                                    if n != 5]
    assert lines[-1] == "+43 more: 43 ready"


def test_when_even_the_agents_needing_attention_do_not_fit_the_count_says_which() -> None:
    states = {f"agent{n:02d}": "failed" for n in range(50, 55)}
    states.update({f"agent{n:02d}": "unhealthy" for n in range(20, 25)})
    states.update({"agent01": "restarting", "agent02": "pending"})
    lines = drawn(many(60, **states), 100, 6)
    assert agents_in(lines) == [(f"agent{n}", "failed") for n in range(50, 54)]
    assert lines[-1] == "+56 more: 1 failed, 5 unhealthy, 1 restarting, 48 ready, 1 pending"


def test_each_stage_shown_keeps_its_number_and_the_columns_keep_their_width() -> None:
    view = many(40, stages=4, agent35="failed", agent17="starting")
    full = drawn(view, 120, None)
    cut = drawn(view, 120, 8)
    assert cut[0] == full[0]  # the heading: same columns, same widths
    rows = cut[1:-1]
    assert [line.split()[:3 if line[0].isdigit() else 2] for line in rows] == [
        ["1", "agent00", "ready"], ["agent01", "ready"], ["agent02", "ready"],
        ["agent03", "ready"], ["2", "agent17", "starting"], ["4", "agent35", "failed"]]
    assert all(line in full for line in rows[:4])
    assert cut[-1] == "+34 more: 34 ready"


def test_a_small_job_is_drawn_as_it_always_was() -> None:
    view = many(3, stages=2, agent02="starting")
    for lines in (None, 4, 30):  # 4: the heading and every agent fit exactly
        assert drawn(view, 100, lines) == drawn(view, 100, None)
    assert len(drawn(view, 100, 4)) == 4
    assert "more" not in "\n".join(drawn(view, 100, 4))


def test_the_count_of_the_rest_fits_the_width() -> None:
    states = {f"agent{n:02d}": state for n, state in
              enumerate(["failed", "unhealthy", "restarting", "starting"] * 5)}
    lines = drawn(many(40, **states), 40, 3)
    assert len(lines) == 3 and len(lines[-1]) <= 40 and lines[-1].endswith("…")
    assert lines[-1].startswith("+39 more: 4 failed, 5 unhealthy")


def test_the_live_view_leaves_a_third_of_the_terminal_to_the_lines_above_it() -> None:
    """On 30 lines the line over the table and the table take 20; the last table, left
    on the screen when the job is over, has every agent."""
    from agentsup import liveview
    from agentsup.logs import EventLog

    out = io.StringIO()
    ids = [f"agent{number:02d}" for number in range(60)]
    log = EventLog("many", fmt="live", stream=out, agents=ids)
    view = log._writer
    assert isinstance(view, liveview.LiveView)
    view.console.size = (100, 30)
    log.emit("plan.resolved", stages=[ids],
             agent_urls={a: f"http://localhost:{18800 + n}" for n, a in enumerate(ids)})
    for pid, agent in enumerate(ids, start=4000):
        log.emit("agent.started", agent=agent, pid=pid, host="localhost")
        if agent != "agent58":
            log.emit("agent.ready", agent=agent, url="http://localhost:1")

    def screen() -> list[str]:
        console = Console(file=io.StringIO(), width=100, color_system=None)
        with console.capture() as capture:
            console.print(view.__rich__())
        return capture.get().splitlines()

    running = screen()
    assert len(running) == 20
    assert "agent58  starting" in "\n".join(running)
    assert running[-1] == "+43 more: 43 ready"
    log.close()
    final = screen()
    assert len(final) == 62 and not any("more" in line for line in final)
