"""Ctrl-Z and `fg` with the live view on the screen.

agentsup runs as the foreground job of a real terminal under a small job-control shell
(`tests/jobcontrol.py`); Ctrl-Z is typed, the shell prints while agentsup is stopped,
and `fg` continues it. A stopped agentsup leaves the cursor shown, and once continued
draws its table below what the shell printed instead of over it.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest

from agentsup.ports import port_in_use
from tests.clirun import agent_entry, free_ports, write_job_document
from tests.terminal import Terminal

CLI = ["-c", "import sys; from agentsup.cli import main; sys.exit(main())"]
JOBCONTROL = str(Path(__file__).with_name("jobcontrol.py"))
SHELL_LINES = ["[job stopped]", "$ echo LINE-ONE", "LINE-ONE", "$ echo LINE-TWO", "LINE-TWO",
               "$ echo LINE-THREE", "LINE-THREE", "$ fg"]


def drawn_below_the_shell(screen: str) -> bool:
    """The shell's lines, whole and in order, then the table drawn again under them."""
    lines = screen.splitlines()
    try:
        start = lines.index(SHELL_LINES[0])
    except ValueError:
        return False
    if lines[start:start + len(SHELL_LINES)] != SHELL_LINES:
        return False
    below = "\n".join(lines[start + len(SHELL_LINES):])
    return bool(re.search(r"^demo: running, 2 of 2 agents ready.*\n(st|stage) +agent",
                          below, re.M))


def demo_job(tmp_path: Path) -> tuple[Path, list[int]]:
    """The job of these tests, `demo`: agents alpha and beta, on the ports returned."""
    ports = free_ports(2)
    job = write_job_document(tmp_path, [agent_entry("alpha", ports[0]),
                                        agent_entry("beta", ports[1])],
                             {"type": "dynamic"}, name="demo")
    return job, ports


def uptime_of_beta(screen: str) -> int:
    """beta's uptime in the last table on the screen, in seconds (under a minute)."""
    found = re.findall(r"^\s+beta\s+ready\s+\d+\s.*\s(\d+)s\s+0\s+ok$", screen, re.M)
    return int(found[-1]) if found else -1


@pytest.mark.integration
def test_ctrl_z_shows_the_cursor_and_fg_draws_below_what_the_shell_printed(
    tmp_path: Path,
) -> None:
    job, _ = demo_job(tmp_path)
    terminal = Terminal([JOBCONTROL, *CLI, "start", str(job)], columns=100, lines=30)
    try:
        terminal.wait_for(lambda s: "running, 2 of 2 agents ready" in s)
        assert terminal.screen.cursor.hidden  # while the table is drawn
        terminal.type(b"\x1a")  # Ctrl-Z
        screen = terminal.wait_for(lambda s: "[job stopped]" in s)
        assert not terminal.screen.cursor.hidden
        # the table is left as it was last drawn, above the shell's lines
        above = screen[: screen.index("[job stopped]")]
        assert re.search(r"^demo: running, 2 of 2 agents ready", above, re.M), screen
        assert re.search(r"^\s+beta\s+ready\s", above, re.M), screen
        for word in ("ONE", "TWO", "THREE"):
            terminal.type(f"echo LINE-{word}\n".encode())
            terminal.wait_for(lambda s, w=word: re.search(f"^LINE-{w}$", s, re.M) is not None)
        terminal.type(b"fg\n")
        resumed = uptime_of_beta(terminal.wait_for(drawn_below_the_shell))
        assert terminal.screen.cursor.hidden  # drawing again
        # and it goes on drawing there: the uptime moves on, the shell's lines stay
        terminal.wait_for(lambda s: drawn_below_the_shell(s) and uptime_of_beta(s) > resumed)
        terminal.type(b"\x03")  # Ctrl-C stops the job as usual
        assert terminal.wait() == 0
        assert "demo: stopped" in terminal.text()
        assert not terminal.screen.cursor.hidden
    finally:
        terminal.close()


def test_a_stop_signal_while_the_main_thread_holds_the_views_lock_waits_for_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The handler runs on the main thread between two bytecodes, here while that thread
    applies an event under the view's lock. The view's thread needs that lock to stop
    drawing: the stop waits until the event is applied, then stops drawing, shows the
    cursor, and only then stops the process (here: records the kill it would send)."""
    import io
    import os
    import signal
    import time

    from agentsup import liveview
    from agentsup.logs import EventLog

    out = io.StringIO()
    log = EventLog("demo", fmt="live", stream=out, agents=["a"])
    view = log._writer
    assert isinstance(view, liveview.LiveView)
    kills: list[tuple[int, bool, str]] = []

    def kill(pid: int, signum: int) -> None:
        assert pid == os.getpid()
        kills.append((signum, view._stop_drawn.is_set(), out.getvalue()))

    try:
        assert signal.getsignal(signal.SIGTSTP) == view._on_terminal_stop
        monkeypatch.setattr(os, "kill", kill)
        learn = view.palette.learn
        ticked: list[str] = []

        def learn_during_a_ctrl_z(event: Any) -> None:  # called under the view's lock
            assert view._state_lock.locked()
            if not ticked:
                ticked.append("once")
                signal.raise_signal(signal.SIGTSTP)
                assert not kills  # not while the lock is held
            learn(event)

        monkeypatch.setattr(view.palette, "learn", learn_during_a_ctrl_z)
        log.emit("plan.resolved", stages=[["a"]], agent_urls={"a": "http://localhost:1"})
        ((signum, drawn, written),) = kills
        assert signum == signal.SIGTSTP
        assert drawn  # the view stopped drawing first, not the wait running out
        assert written.rindex("\x1b[?25h") > written.rindex("\x1b[?25l")  # cursor shown
        assert signal.getsignal(signal.SIGTSTP) == view._on_terminal_stop  # again
        deadline = time.monotonic() + 10
        while view._suspended and time.monotonic() < deadline:  # continued: drawn again
            time.sleep(0.01)
        assert not view._suspended
        assert out.getvalue().rindex("\x1b[?25l") >= len(written)  # the cursor hidden again
    finally:
        log.close()
    assert signal.getsignal(signal.SIGTSTP) == signal.SIG_DFL


def test_only_the_live_view_handles_ctrl_z_and_not_when_it_was_ignored() -> None:
    import io
    import signal

    from agentsup.logs import EventLog

    for fmt in ("json", "console"):
        log = EventLog("demo", fmt=fmt, stream=io.StringIO(), agents=["a"])
        assert signal.getsignal(signal.SIGTSTP) == signal.SIG_DFL
        log.close()
    previous = signal.signal(signal.SIGTSTP, signal.SIG_IGN)
    try:
        log = EventLog("demo", fmt="live", stream=io.StringIO(), agents=["a"])
        assert signal.getsignal(signal.SIGTSTP) == signal.SIG_IGN
        log.close()
        assert signal.getsignal(signal.SIGTSTP) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGTSTP, previous)


@pytest.mark.integration
def test_bg_keeps_the_view_from_drawing_until_fg(tmp_path: Path) -> None:
    # Continued in the background, agentsup runs on without drawing: the terminal is the
    # shell's. `fg` gives it back and the table is drawn again below the shell's lines.
    job, _ = demo_job(tmp_path)
    terminal = Terminal([JOBCONTROL, *CLI, "start", str(job)], columns=100, lines=30)
    try:
        terminal.wait_for(lambda s: "running, 2 of 2 agents ready" in s)
        terminal.type(b"\x1a")  # Ctrl-Z
        terminal.wait_for(lambda s: "[job stopped]" in s)
        terminal.type(b"bg\n")
        terminal.wait_for(lambda s: re.search(r"^\$ bg\n\$$", s, re.M) is not None)
        terminal.type(b"echo IN-THE-BACKGROUND\n")
        terminal.wait_for(lambda s: re.search(r"^IN-THE-BACKGROUND\n\$$", s, re.M) is not None)
        since = len(terminal.raw)
        terminal.pump(2.0)  # the view would redraw four times a second
        assert terminal.raw[since:] == b"", terminal.raw[since:]
        screen = terminal.text()
        after = screen[screen.index("IN-THE-BACKGROUND"):]
        assert "agents ready" not in after, screen
        terminal.type(b"fg\n")
        terminal.wait_for(
            lambda s: re.search(r"^IN-THE-BACKGROUND\n\$ fg\n(.*\n)*demo: running, 2 of 2 "
                                r"agents ready", s, re.M) is not None
        )
        assert terminal.screen.cursor.hidden  # drawing again
        terminal.type(b"\x03")
        assert terminal.wait() == 0
        assert "demo: stopped" in terminal.text()
    finally:
        terminal.close()


@pytest.mark.integration
def test_started_in_the_background_the_view_draws_once_brought_to_the_foreground(
    tmp_path: Path,
) -> None:
    # `agentsup start job.yaml &`: the job starts and runs, the shell keeps the terminal,
    # and `fg` brings up the table.
    job, ports = demo_job(tmp_path)
    terminal = Terminal([JOBCONTROL, "--bg", *CLI, "start", str(job)], columns=100, lines=30)
    try:
        terminal.wait_for(lambda s: s.startswith("$"))
        # Ready without a terminal to draw on: the agents answer on their ports.
        _wait_until_listening(ports)
        terminal.pump(1.0)
        assert "agents ready" not in terminal.text(), terminal.text()
        terminal.type(b"fg\n")
        terminal.wait_for(lambda s: re.search(r"^demo: running, 2 of 2 agents ready", s, re.M)
                          is not None)
        assert terminal.screen.cursor.hidden
        terminal.type(b"\x03")
        assert terminal.wait() == 0
        assert "demo: stopped" in terminal.text()
    finally:
        terminal.close()


@pytest.mark.integration
def test_in_the_background_with_tostop_a_stop_ends_agentsup_without_drawing(
    tmp_path: Path,
) -> None:
    # `stty tostop; agentsup start job.yaml &`, then a stop: with `tostop` the kernel
    # stops a background process that writes to the terminal (SIGTTOU), so a last
    # table drawn there would leave agentsup stopped instead of ended.
    job, ports = demo_job(tmp_path)
    terminal = Terminal([JOBCONTROL, "--tostop", "--bg", *CLI, "start", str(job)],
                        columns=100, lines=30)
    try:
        terminal.wait_for(lambda s: s.startswith("$"))
        _wait_until_listening(ports)
        terminal.pump(1.0)
        terminal.type(b"kill\n")
        terminal.type(b"wait\n")
        screen = terminal.wait_for(lambda s: "[job " in s)
        assert "[job exited 0]" in screen, screen
        assert "agents ready" not in screen and "demo: stopped" not in screen, screen
        assert terminal.wait() == 0
        for port in ports:  # the stop ended the agents too
            assert not port_in_use(port), port
    finally:
        terminal.close()


def _wait_until_listening(ports: list[int], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    for port in ports:
        while not port_in_use(port):
            assert time.monotonic() < deadline, f"nothing listens on {port}"
            time.sleep(0.05)
