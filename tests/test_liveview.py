"""The live view and console lines, as a person sees them.

The pure part (`JobView`) is driven with scripted events; the real CLI runs in a real
pseudo-terminal whose screen is rebuilt by a terminal emulator, and Ctrl-C is typed.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from agentsup.eventtext import Palette
from agentsup.jobview import JobView, progress_text, table
from tests.clirun import agent_entry, agentsup_command, free_ports, write_job_document
from tests.terminal import Terminal

CLI = ["-c", "import sys; from agentsup.cli import main; sys.exit(main())"]


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def feed(view: JobView, *events: dict[str, Any]) -> None:
    for event in events:
        view.apply(event)


def shown(view: JobView) -> str:
    console = Console(file=io.StringIO(), width=140, color_system=None)
    with console.capture() as capture:
        console.print(progress_text(view.snapshot()))
        console.print(table(view.snapshot(), Palette()))
    return capture.get()


PLAN = {"event": "plan.resolved", "stages": [["weather", "maps"], ["controller"]],
        "agent_urls": {"weather": "http://localhost:1", "maps": "http://localhost:2",
                       "controller": "http://localhost:3"}}


def test_the_table_follows_the_events() -> None:
    clock = Clock()
    view = JobView("demo", clock=clock)
    feed(view, {"event": "job.loaded"}, PLAN, {"event": "stage.started", "stage": 1},
         {"event": "agent.started", "agent": "weather", "pid": 41, "host": "localhost"},
         {"event": "agent.started", "agent": "maps", "pid": 42, "host": "localhost"},
         {"event": "agent.ready", "agent": "weather", "url": "http://localhost:1"})
    clock.now += 65
    text = shown(view)
    assert text.splitlines()[0] == "demo: stage 1/2 starting: 1 of 3 agents ready"
    rows = [line.split() for line in text.splitlines()[2:]]
    assert rows[0] == ["1", "weather", "ready", "41", "localhost", "http://localhost:1",
                       "1m05s", "0", "ok"]
    assert rows[1] == ["maps", "starting", "42", "localhost", "http://localhost:2", "1m05s",
                       "0"]
    assert rows[-1] == ["2", "controller", "pending", "http://localhost:3", "0"]

    feed(view, {"event": "agent.exited", "agent": "maps", "signal": "SIGKILL"},
         {"event": "agent.restarting", "agent": "maps", "attempt": 1, "delay": 0.5},
         {"event": "agent.started", "agent": "maps", "pid": 43, "host": "localhost"},
         {"event": "agent.ready", "agent": "maps", "url": "http://localhost:2"},
         {"event": "agent.started", "agent": "controller", "pid": 44, "host": "localhost"},
         {"event": "agent.ready", "agent": "controller", "url": "http://localhost:3"},
         {"event": "job.ready", "seconds": 0.41})
    text = shown(view)
    assert text.splitlines()[0] == (
        "demo: running, 3 of 3 agents ready, ready in 0.41 s, up 1m05s; Ctrl-C stops"
    )
    maps = next(line.split() for line in text.splitlines() if " maps " in line)
    assert maps == ["maps", "ready", "43", "localhost", "http://localhost:2", "0s", "1", "ok"]

    feed(view, {"event": "agent.unhealthy", "agent": "weather", "failures": 3,
                "error": "connection refused"})
    weather = next(line for line in shown(view).splitlines() if " weather " in line)
    assert "unhealthy" in weather and weather.endswith("connection refused")

    feed(view, {"event": "job.stopping", "reason": "signal", "signal": "SIGINT"},
         {"event": "agent.stopped", "agent": "controller", "exit_code": 0})
    assert shown(view).splitlines()[0] == (
        "demo: stopping: 1 of 3 agents stopped; Ctrl-C again kills"
    )


def states(view: JobView) -> dict[str, tuple[str, str]]:
    return {row.agent: (row.state, row.health) for row in view.snapshot().rows}


def running_view() -> JobView:
    view = JobView("demo", clock=Clock())
    feed(view, {"event": "job.loaded"}, PLAN)
    for pid, agent in enumerate(("weather", "maps", "controller"), start=41):
        feed(view, {"event": "agent.started", "agent": agent, "pid": pid, "host": "localhost"},
             {"event": "agent.ready", "agent": agent, "url": "http://localhost:1"})
    feed(view, {"event": "job.ready", "seconds": 0.4})
    return view


def test_an_ordered_stop_shows_the_stage_being_stopped_as_stopping() -> None:
    view = running_view()
    feed(view, {"event": "job.stopping", "reason": "signal", "signal": "SIGINT"})
    assert states(view) == {"weather": ("ready", "ok"), "maps": ("ready", "ok"),
                            "controller": ("stopping", "")}
    feed(view, {"event": "agent.stopped", "agent": "controller", "signal": "SIGTERM"})
    assert states(view) == {"weather": ("stopping", ""), "maps": ("stopping", ""),
                            "controller": ("stopped", "")}
    feed(view, {"event": "agent.stopped", "agent": "maps", "exit_code": 0})
    assert states(view)["weather"] == ("stopping", "")
    assert re.search(r"^1\s+weather\s+stopping\s+41\s", shown(view), re.M)


def test_a_kill_at_once_shows_the_agents_still_running_as_killed() -> None:
    """A second signal sends no `agent.stopped`: `job.stopped` with `killed` ends them."""
    view = running_view()
    feed(view, {"event": "job.stopping", "reason": "signal", "signal": "SIGINT"},
         {"event": "agent.stopped", "agent": "controller", "signal": "SIGTERM"},
         {"event": "job.stopping", "reason": "kill", "signal": "SIGINT"},
         {"event": "job.stopped", "exit_code": 0, "killed": True})
    assert states(view) == {"weather": ("killed", "killed: second SIGINT"),
                            "maps": ("killed", "killed: second SIGINT"),
                            "controller": ("stopped", "")}
    text = shown(view)
    assert text.splitlines()[0] == "demo: stopped; 2 agents killed at once"
    assert "ready" not in text and " ok" not in text
    assert all(row.since is None for row in view.snapshot().rows)  # no uptime counts on


def test_a_shutdown_timeout_kill_says_so() -> None:
    view = running_view()
    feed(view, {"event": "job.stopping", "reason": "request"},
         {"event": "job.stopping", "reason": "shutdown_timeout"},
         {"event": "job.stopped", "exit_code": 0, "killed": True})
    assert states(view)["controller"] == ("killed", "killed: shutdown_timeout")


def test_a_failed_job_and_its_failed_agent_stay_failed_through_the_stop() -> None:
    view = JobView("demo", clock=Clock())
    feed(view, {"event": "job.loaded"}, PLAN, {"event": "stage.started", "stage": 1},
         {"event": "agent.started", "agent": "weather", "pid": 41, "host": "localhost"},
         {"event": "agent.ready", "agent": "weather", "url": "http://localhost:1"},
         {"event": "agent.started", "agent": "maps", "pid": 42, "host": "localhost"},
         {"event": "agent.exited", "agent": "maps", "exit_code": 3},
         {"event": "agent.failed", "agent": "maps",
          "reason": "restarted 2 times within 60 s and exited again (exit code 3)"},
         {"event": "job.failed", "reason": "agent 'maps' failed"},
         {"event": "job.stopping", "reason": "failure"})
    assert shown(view).splitlines()[0] == (
        "demo: failed, stopping: 2 of 3 agents stopped; Ctrl-C again kills")
    feed(view, {"event": "agent.stopped", "agent": "maps", "exit_code": 3},
         {"event": "agent.stopped", "agent": "weather", "signal": "SIGTERM"},
         {"event": "job.stopped", "exit_code": 1})
    assert states(view) == {"weather": ("stopped", ""), "maps": ("failed", "exit code 3"),
                            "controller": ("pending", "")}
    text = shown(view)
    assert text.splitlines()[0] == "demo: failed (exit code 1): agent 'maps' failed"
    assert re.search(r"^\s+maps\s+failed\s+42\s+localhost\s+http://localhost:2\s+0\s+"
                     r"exit code 3$", text, re.M), text


def test_a_failed_agent_without_an_exit_shows_its_reason() -> None:
    view = JobView("demo", clock=Clock())
    feed(view, PLAN,
         {"event": "agent.started", "agent": "maps", "pid": 42, "host": "localhost"},
         {"event": "agent.failed", "agent": "maps", "reason": "not ready within 15 s"},
         {"event": "agent.stopped", "agent": "maps", "signal": "SIGTERM"},
         {"event": "job.stopped", "exit_code": 1})
    assert states(view)["maps"] == ("failed", "not ready within 15 s")
    assert shown(view).splitlines()[0] == "demo: failed (exit code 1)"


def test_an_agent_that_had_exited_keeps_how_it_ended_when_stopped() -> None:
    view = running_view()
    feed(view, {"event": "agent.exited", "agent": "maps", "exit_code": 0},
         {"event": "job.stopping", "reason": "signal", "signal": "SIGTERM"},
         {"event": "agent.stopped", "agent": "maps", "exit_code": 0},
         {"event": "job.stopped", "exit_code": 0})
    assert states(view)["maps"] == ("stopped", "exit code 0")
    assert shown(view).splitlines()[0] == "demo: stopped"


def hub_spoke(*extra: dict[str, Any]) -> JobView:
    """examples/hub-spoke.yaml, running for a minute, with pids as long as Linux's."""
    clock = Clock()
    view = JobView("hub-spoke-demo", clock=clock)
    urls = {"controller": "http://localhost:8101", "weather": "http://localhost:8102",
            "maps": "http://localhost:8103"}
    feed(view, {"event": "job.loaded"},
         {"event": "plan.resolved", "stages": [["weather", "maps"], ["controller"]],
          "agent_urls": urls})
    for pid, agent in enumerate(("weather", "maps", "controller"), start=4194301):
        feed(view, {"event": "agent.started", "agent": agent, "pid": pid, "host": "localhost"},
             {"event": "agent.ready", "agent": agent, "url": urls[agent]})
    feed(view, {"event": "job.ready", "seconds": 0.41}, *extra)
    clock.now += 65
    return view


def drawn(view: JobView, width: int) -> list[str]:
    console = Console(file=io.StringIO(), width=width, color_system=None)
    with console.capture() as capture:
        console.print(table(view.snapshot(), Palette(), width))
    lines = [line.rstrip() for line in capture.get().splitlines()]
    assert all(len(line) <= width for line in lines)
    return lines


def test_the_table_is_readable_on_80_columns() -> None:
    """Agent, state, pid and health whole; the host, redundant with the URL, goes first."""
    lines = drawn(hub_spoke(), 80)
    assert lines[0].split() == ["st", "agent", "state", "pid", "url", "up", "rst", "health"]
    assert [line.split() for line in lines[1:]] == [
        ["1", "weather", "ready", "4194301", "http://localhost:8102", "1m05s", "0", "ok"],
        ["maps", "ready", "4194302", "http://localhost:8103", "1m05s", "0", "ok"],
        ["2", "controller", "ready", "4194303", "http://localhost:8101", "1m05s", "0", "ok"]]
    stopping = hub_spoke({"event": "agent.unhealthy", "agent": "maps", "failures": 3,
                          "error": "connection refused"},
                         {"event": "job.stopping", "reason": "signal", "signal": "SIGINT"})
    lines = drawn(stopping, 80)
    assert lines[2].split() == ["maps", "unhealthy", "4194302", "…alhost:8103", "1m05s",
                                "0", "connection", "refused"]
    assert lines[3].split() == ["2", "controller", "stopping", "4194303", "…alhost:8101",
                                "1m05s", "0"]


def test_the_line_over_the_table_fits_its_width() -> None:
    snap = hub_spoke().snapshot()
    assert progress_text(snap, 100) == progress_text(snap) == (
        "hub-spoke-demo: running, 3 of 3 agents ready, ready in 0.41 s, up 1m05s; "
        "Ctrl-C stops")
    assert progress_text(snap, 80) == "hub-spoke-demo: running, 3/3 ready, up 1m05s; Ctrl-C stops"
    assert progress_text(snap, 30) == "hub-spoke-demo: running, 3/3…"
    failed = hub_spoke({"event": "job.failed", "reason": "agent 'maps' failed: " + "x" * 80},
                       {"event": "job.stopped", "exit_code": 1, "killed": True})
    line = progress_text(failed.snapshot(), 80)
    assert line.startswith("hub-spoke-demo: failed (exit code 1); 3 killed: agent 'maps'")
    assert len(line) == 80 and line.endswith("x…")


def test_wide_terminals_keep_every_column_and_heading() -> None:
    for width in (100, None):
        lines = [line.split() for line in drawn(hub_spoke(), width or 200)] if width else [
            line.split() for line in shown(hub_spoke()).splitlines()[1:]]
        assert lines[0] == ["stage", "agent", "state", "pid", "host", "url", "uptime",
                            "restarts", "health"]
        assert lines[1] == ["1", "weather", "ready", "4194301", "localhost",
                            "http://localhost:8102", "1m05s", "0", "ok"]


def test_a_host_that_is_not_in_the_url_stays_and_narrow_terminals_keep_the_ids() -> None:
    view = hub_spoke({"event": "agent.started", "agent": "maps", "pid": 7,
                      "host": "agentsup-hub-spoke-demo-maps"})
    lines = drawn(view, 80)
    assert lines[0].split()[4] == "host"
    assert lines[2].split() == ["maps", "starting", "7", "agentsup…", "localhost:8103",
                                "1m05s", "0"]
    for width in (60, 50):
        lines = drawn(hub_spoke(), width)
        found = [re.search(r" (weather|maps|controller) +ready +419430\d ", line)
                 for line in lines[1:]]
        assert [m.group(1) if m else None for m in found] == ["weather", "maps", "controller"]
    assert "url" not in lines[0].split()  # on 50 columns


def job_file(tmp_path: Path, **deployment: Any) -> Path:
    ports = free_ports(3)
    return write_job_document(
        tmp_path,
        [agent_entry("controller", ports[0]),
         agent_entry("weather", ports[1], PRINT_LINES=1),
         agent_entry("maps", ports[2])],
        {"type": "hub-spoke", "hub": "controller", "spokes": ["weather", "maps"]},
        name="demo",
        **deployment,
    )


ROW = re.compile(r"^\s*(?:\d\s+)?(\w+)\s+(\w+)\s+(\d+)\s+localhost\s+(http://localhost:\d+)"
                 r"\s+\d+s\s+0\s+ok$")


@pytest.mark.integration
def test_a_person_sees_the_live_table_and_output_and_ctrl_c_stops(tmp_path: Path) -> None:
    job = job_file(tmp_path)
    terminal = Terminal([*CLI, "start", str(job)])
    try:
        screen = terminal.wait_for(lambda s: "running, 3 of 3 agents ready" in s)
        lines = screen.splitlines()
        header = next(i for i, line in enumerate(lines) if line.startswith("stage  agent"))
        assert lines[header].split() == ["stage", "agent", "state", "pid", "host", "url",
                                         "uptime", "restarts", "health"]
        rows = [ROW.match(line) for line in lines[header + 1: header + 4]]
        assert all(rows), "\n".join(lines[header:])
        assert [(m.group(1), m.group(2)) for m in rows if m] == [
            ("weather", "ready"), ("maps", "ready"), ("controller", "ready")]
        assert lines[header + 1].startswith("1 ") and lines[header + 3].startswith("2 ")
        # output and sentences scroll above the table, `<time> <who> | <text>`
        above = "\n".join(lines[:header])
        assert re.search(r"^\d\d:\d\d:\d\d weather    \| out line 0$", above, re.M)
        assert re.search(r"^\d\d:\d\d:\d\d maps       \| \{\"kind\":\"listening\",\"port\":\d+\}$",
                         above, re.M)
        assert re.search(r"^\d\d:\d\d:\d\d agentsup   \| maps ready in \d+\.\d\d s at "
                         r"http://localhost:\d+$", above, re.M)
        assert re.search(r"agentsup   \| job ready: 3 agents in 2 stages, \d+\.\d\d s$",
                         above, re.M)
        assert "{" not in above.replace('{"kind"', "")  # no raw JSON events on a terminal
        assert b"\x1b[3" in terminal.raw  # colours, on a terminal
        terminal.type(b"\x03")  # Ctrl-C
        screen = terminal.wait_for(lambda s: "job stopped, exit code 0" in s)
        assert terminal.wait() == 0
        screen = terminal.text()
        assert "stopping (SIGINT); press Ctrl-C again to kill at once" in screen
        assert "demo: stopped" in screen
        assert len(re.findall(r"^\s*(?:\d\s+)?\w+\s+stopped\s", screen, re.M)) == 3
    finally:
        terminal.close()


@pytest.mark.integration
def test_a_second_ctrl_c_kills_at_once(tmp_path: Path) -> None:
    (port,) = free_ports(1)
    job = write_job_document(tmp_path, [agent_entry("stubborn", port, IGNORE_TERM=1)],
                             {"type": "dynamic"}, name="demo", stop_timeout=120)
    terminal = Terminal([*CLI, "start", str(job)])
    try:
        terminal.wait_for(lambda s: "running, 1 of 1 agents ready" in s)
        terminal.type(b"\x03")
        # the agent being stopped is not shown ready any more
        terminal.wait_for(lambda s: "Ctrl-C again kills" in s
                          and re.search(r"^1\s+stubborn\s+stopping\s+\d+\s", s, re.M))
        terminal.type(b"\x03")
        terminal.wait_for(lambda s: "killing every agent now (SIGINT)" in s)
        assert terminal.wait() == 0
        screen = terminal.text()
        assert "job stopped, exit code 0, agents killed" in screen
        assert "demo: stopped; 1 agent killed at once" in screen
        (row,) = [line for line in screen.splitlines() if re.match(r"1\s+stubborn\s", line)]
        assert re.fullmatch(r"1\s+stubborn\s+killed\s+\d+\s+localhost\s+http://localhost:\d+"
                            r"\s+0\s+killed: second SIGINT", row), row
    finally:
        terminal.close()


@pytest.mark.integration
def test_console_format_on_a_terminal_has_colour_and_no_cursor_movement(
    tmp_path: Path,
) -> None:
    job = job_file(tmp_path)
    terminal = Terminal([*CLI, "start", str(job), "--log-format", "console"])
    try:
        terminal.wait_for(lambda s: "job ready: 3 agents" in s)
        terminal.type(b"\x03")
        assert terminal.wait() == 0
    finally:
        terminal.close()
    assert b"\x1b[36m" in terminal.raw  # the first agent's colour
    cursor_moves = re.findall(rb"\x1b\[[0-9;]*[ABCDHJK]|\x1b\[\?25[lh]", terminal.raw)
    assert cursor_moves == []
    assert "stage  agent" not in terminal.text()


@pytest.mark.integration
def test_auto_is_json_into_a_pipe_and_console_into_a_file_is_plain(tmp_path: Path) -> None:
    job = job_file(tmp_path)
    for extra, check in ((), "json"), (("--log-format", "console"), "plain"):
        process = subprocess.Popen(
            agentsup_command("start", str(job), *extra), stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, start_new_session=True,
        )
        assert process.stdout is not None
        lines = []
        for line in process.stdout:
            lines.append(line)
            if "job ready" in line or '"job.ready"' in line:
                process.send_signal(2)
        assert process.wait(timeout=30) == 0
        if check == "json":
            assert all(isinstance(json.loads(line), dict) for line in lines)
        else:
            assert all("\x1b" not in line for line in lines)
            assert all(re.match(r"\d\d:\d\d:\d\d (agentsup|controller|weather|maps) +\| ", line)
                       for line in lines), lines


def test_jobs_with_long_health_errors_stay_on_one_row() -> None:
    view = JobView("demo", clock=Clock())
    feed(view, PLAN, {"event": "agent.unhealthy", "agent": "maps", "failures": 3,
                      "error": "x" * 200})
    (row,) = [line for line in shown(view).splitlines() if " maps " in line]
    assert row.endswith("…") and len(row) < 140


def test_a_flood_of_output_drops_the_oldest_lines_with_a_note(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from agentsup import liveview
    from agentsup.logs import EventLog

    monkeypatch.setattr(liveview, "MAX_PENDING", 100)
    out = io.StringIO()
    log = EventLog("flood", fmt="live", stream=out, agents=["a"])
    view = log._writer
    assert isinstance(view, liveview.LiveView)
    with view._print_lock:  # the terminal is slow: nothing gets printed meanwhile
        for number in range(130):
            log.output("a", "stdout", f"line {number}")
    log.close()
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out.getvalue())
    assert "30 lines not shown here (too many too fast)" in text
    assert "a        | line 29\n" not in text
    assert "a        | line 30\n" in text and "a        | line 129\n" in text


def test_control_characters_in_output_cannot_move_the_cursor() -> None:
    from agentsup.logs import EventLog

    out = io.StringIO()
    log = EventLog("ctl", fmt="live", stream=out, agents=["a"])
    log.output("a", "stdout", "progress 50%\r\x1b[2Kdone")
    log.close()
    assert "progress 50%\ufffd\ufffd[2Kdone" in out.getvalue()


def test_the_table_sees_every_event_whatever_the_log_level() -> None:
    from agentsup import liveview
    from agentsup.logs import EventLog

    out = io.StringIO()
    log = EventLog("quiet", fmt="live", stream=out, level="warning", agents=["a"])
    view = log._writer
    assert isinstance(view, liveview.LiveView)
    log.emit("plan.resolved", stages=[["a"]], agent_urls={"a": "http://localhost:1"})
    log.emit("agent.started", agent="a", pid=7, host="localhost")
    log.emit("agent.ready", agent="a", url="http://localhost:1")
    log.output("a", "stdout", "ordinary")
    log.emit("agent.unhealthy", "warning", agent="a", failures=3, error="refused")
    log.close()
    (row,) = view.view.snapshot().rows
    assert (row.state, row.pid, row.health) == ("unhealthy", 7, "refused")
    printed = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out.getvalue())
    assert "a unhealthy after 3 failed checks: refused" in printed
    assert "ordinary" not in printed and "a ready in" not in printed


HOSTILE = [
    "\u009d0;C1-TITLE\u009c",  # OSC 0 (the window title) in its C1 form
    "\u009b?1049h\u009b?25l\u009b2J\u009b1;1HC1-CLEARED",  # alternate screen, clear, home
    "\x1b]0;ESC-TITLE\x07\x1b[?1049hESC-TAKEN",  # the same with ESC
    "next\u0085line",  # NEL
    "abc\u202edef",  # right-to-left override
    json.dumps({"note": "\u009b?1049h in JSON"}),  # a payload: the C1 is JSON-escaped
]


@pytest.mark.integration
def test_agent_output_cannot_take_over_the_terminal(tmp_path: Path) -> None:
    """Escape sequences in their ESC and their C1 (U+0080-U+009F) forms, in lines and
    in JSON payloads, are shown as `\ufffd`: no title, no alternate screen, no clearing."""
    (port,) = free_ports(1)
    echo = tmp_path / "hostile.txt"
    echo.write_text("".join(line + "\n" for line in HOSTILE), encoding="utf-8")
    job = write_job_document(tmp_path, [agent_entry("a", port, ECHO_FILE=echo, PYTHONUTF8=1)],
                             {"type": "dynamic"}, name="demo")
    terminal = Terminal([*CLI, "start", str(job)])
    try:
        terminal.wait_for(lambda s: "running, 1 of 1 agents ready" in s and "JSON" in s)
        terminal.type(b"\x03")
        assert terminal.wait() == 0
    finally:
        terminal.close()
    screen = terminal.text()
    assert terminal.screen.title == ""
    assert (1049 << 5) not in terminal.screen.mode  # pyte keeps private modes shifted
    assert not terminal.screen.cursor.hidden
    for raw in ("\u009b", "\u009d", "\u009c", "\u0085", "\u202e", "\x1b]", "\x1b[?1049h"):
        assert raw.encode() not in terminal.raw
    assert re.search(r"^\d\d:\d\d:\d\d a +\| \ufffd0;C1-TITLE\ufffd$", screen, re.M), screen
    assert "| \ufffd?1049h\ufffd?25l\ufffd2J\ufffd1;1HC1-CLEARED" in screen
    assert "| \ufffd]0;ESC-TITLE\ufffd\ufffd[?1049hESC-TAKEN" in screen
    assert "| next\ufffdline" in screen and "| abc\ufffddef" in screen
    assert '| {"note":"\ufffd?1049h in JSON"}' in screen
    assert "demo: stopped" in screen


def test_printable_keeps_text_and_tabs_and_replaces_what_terminals_act_on() -> None:
    from agentsup.eventtext import printable

    text = "plain text, é, 日本, \u200fmark\ttab"
    assert printable(text) == text
    unsafe = [*range(0x00, 0x09), *range(0x0A, 0x20), *range(0x7F, 0xA0),
              *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
    assert printable("".join(map(chr, unsafe))) == "\ufffd" * len(unsafe)
    assert printable("\u00a0") == "\u00a0"  # the first character after the C1 controls


def test_table_cells_are_shown_as_written() -> None:
    """An error or host holding escape codes or rich markup is shown, not obeyed."""
    view = JobView("demo", clock=Clock())
    feed(view, PLAN,
         {"event": "agent.started", "agent": "maps", "pid": 42, "host": "[bold]h\u009b2J"},
         {"event": "agent.unhealthy", "agent": "maps", "failures": 3,
          "error": "[red]x[/red]\x1b]0;T\x07"})
    (row,) = [line for line in shown(view).splitlines() if " maps " in line]
    assert "[bold]h\ufffd2J" in row and row.endswith("[red]x[/red]\ufffd]0;T\ufffd")


@pytest.mark.integration
def test_the_final_table_of_a_failed_job_says_failed(tmp_path: Path) -> None:
    good, bad = free_ports(2)
    job = write_job_document(
        tmp_path,
        [agent_entry("good", good),
         agent_entry("crash", bad, restart={"max_restarts": 1, "backoff": {"initial": 0.1}},
                     EXIT_AFTER=0.01, EXIT_CODE=3)],
        {"type": "hub-spoke", "hub": "good", "spokes": ["crash"]}, name="demo")
    terminal = Terminal([*CLI, "start", str(job)])
    try:
        assert terminal.wait() == 1
    finally:
        terminal.close()
    screen = terminal.text()
    assert re.search(r"^demo: failed \(exit code 1\): agent 'crash' failed", screen, re.M), screen
    assert re.search(r"^1\s+crash\s+failed\s+\d+\s+localhost\s+http://localhost:\d+\s+1\s+"
                     r"exit code 3$", screen, re.M), screen


@pytest.mark.integration
@pytest.mark.parametrize("columns", [56, 60, 70])
def test_the_echoed_ctrl_c_leaves_no_stale_line_on_a_terminal_the_table_fills(
    tmp_path: Path, columns: int,
) -> None:
    # The terminal echoes Ctrl-C as `^C` where the cursor is: at the end of the table's
    # last line. On a terminal this narrow the table takes every column it is given,
    # and `^C` past the last column wrapped that line, so the next redraw went one
    # line short and left the line over the table behind.
    terminal = Terminal([*CLI, "start", str(job_file(tmp_path))], columns=columns)
    try:
        terminal.wait_for(lambda s: re.search(r"^demo: running, .*Ctrl-C stops", s, re.M)
                          is not None)
        terminal.type(b"\x03")
        assert terminal.wait() == 0
    finally:
        terminal.close()
    assert "demo: running" not in terminal.text(), terminal.text()
    assert re.search(r"^demo: stopped", terminal.text(), re.M), terminal.text()


@pytest.mark.integration
def test_an_80_column_terminal_shows_whole_ids_states_and_pids(tmp_path: Path) -> None:
    terminal = Terminal([*CLI, "start", str(job_file(tmp_path))], columns=80)
    try:
        screen = terminal.wait_for(lambda s: "running, 3 of 3 agents ready" in s)
        terminal.type(b"\x03")
        assert terminal.wait() == 0
    finally:
        terminal.close()
    # no stale copy of a redrawn line stays behind (a line filling the last column did)
    assert "demo: running" not in terminal.text()
    assert terminal.text().count("st  agent") == 1
    lines = screen.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("st  agent"))
    assert lines[header].split() == ["st", "agent", "state", "pid", "url", "up", "rst",
                                     "health"]
    rows = [re.match(r"^(?:\d\s+)?\s*(\w+)\s+ready\s+\d+\s+http://localhost:\d+\s+\d+s\s+0\s+ok$",
                     line) for line in lines[header + 1: header + 4]]
    assert [m.group(1) if m else None for m in rows] == ["weather", "maps", "controller"], screen
