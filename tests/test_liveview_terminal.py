"""What the terminal does around the live view: keys typed, windows resized. A real
pseudo-terminal, the real CLI.

The terminal echoed every key at the end of the table, and an Enter there made the next
redraw start a line low, leaving copies of the line over the table and of its top rows
on the screen for good. The view now keeps the terminal from echoing while it draws
(agentsup/terminalecho.py) and gives the echo back when it stops drawing.

`tests.terminal.Terminal` exports `COLUMNS` and `LINES`, as a shell that ran `eval
$(resize)` does. rich took those over the terminal's own size for good, so after the
window was made narrower the table stayed as wide as before, every line of it wrapped,
and each redraw left a copy of the table behind.
"""

from __future__ import annotations

import os
import re
import select
import signal
import termios
import time
from pathlib import Path

import pytest

from tests.clirun import agent_entry, free_ports, write_job_document
from tests.terminal import Terminal

CLI_CODE = "import sys; from agentsup.cli import main; sys.exit(main())"
CLI = ["-c", CLI_CODE]
JOBCONTROL = str(Path(__file__).with_name("jobcontrol.py"))
RUNNING = re.compile(r"^demo: running, 2 of 2 agents ready", re.M)


def demo_job(tmp_path: Path) -> Path:
    ports = free_ports(2)
    return write_job_document(tmp_path, [agent_entry("alpha", ports[0]),
                                         agent_entry("beta", ports[1])],
                              {"type": "dynamic"}, name="demo")


def echoes(terminal: Terminal) -> bool:
    """Whether the terminal echoes typed keys (the master side reads the same modes)."""
    return bool(termios.tcgetattr(terminal.fd)[3] & termios.ECHO)


def stop_and_see_the_echo_back(terminal: Terminal) -> None:
    terminal.type(b"\x03")  # Ctrl-C
    assert terminal.wait() == 0
    assert echoes(terminal)


def no_stale_table(screen: str) -> None:
    """One line over the table and one row per agent: nothing left of an older table."""
    assert len(re.findall(r"^demo: ", screen, re.M)) == 1, screen
    for agent in ("alpha", "beta"):
        rows = re.findall(rf"^\d*\s+{agent}\s+(?:ready|stopped)\s", screen, re.M)
        assert len(rows) == 1, screen


@pytest.mark.integration
def test_typing_and_enter_while_the_view_draws_leave_no_trace(tmp_path: Path) -> None:
    terminal = Terminal([*CLI, "start", str(demo_job(tmp_path))], columns=100, lines=30)
    try:
        terminal.wait_for(lambda s: RUNNING.search(s) is not None)
        terminal.type(b"hello\r")
        terminal.type(b"world\r\r\r")
        terminal.pump(1.0)  # four redraws at least
        screen = terminal.text()
        assert "hello" not in screen and "world" not in screen, screen
        no_stale_table(screen)
        assert not echoes(terminal)
        terminal.type(b"\x03")
        assert terminal.wait() == 0
        assert echoes(terminal)  # given back at the end
    finally:
        terminal.close()
    screen = terminal.text()
    assert "demo: running" not in screen, screen
    assert re.search(r"^demo: stopped", screen, re.M), screen
    no_stale_table(screen)


@pytest.mark.integration
def test_a_terminal_that_did_not_echo_is_left_so(tmp_path: Path) -> None:
    # `stty -echo` before agentsup: the view must not turn the echo on at its end.
    quiet_first = ("import sys, termios; m = termios.tcgetattr(0); m[3] &= ~termios.ECHO; "
                   "termios.tcsetattr(0, termios.TCSANOW, m); "
                   "from agentsup.cli import main; sys.exit(main())")
    terminal = Terminal(["-c", quiet_first, "start", str(demo_job(tmp_path))])
    try:
        terminal.wait_for(lambda s: RUNNING.search(s) is not None)
        assert not echoes(terminal)
        terminal.type(b"\x03")
        assert terminal.wait() == 0
        assert not echoes(terminal)
    finally:
        terminal.close()


@pytest.mark.integration
def test_ctrl_z_gives_the_echo_back_and_fg_takes_it_again(tmp_path: Path) -> None:
    terminal = Terminal([JOBCONTROL, *CLI, "start", str(demo_job(tmp_path))])
    try:
        terminal.wait_for(lambda s: RUNNING.search(s) is not None)
        assert not echoes(terminal)
        terminal.type(b"\x1a")  # Ctrl-Z
        terminal.wait_for(lambda s: "[job stopped]" in s)
        assert echoes(terminal)
        terminal.type(b"echo TYPED\n")  # what the shell reads is seen as it is typed
        terminal.wait_for(lambda s: re.search(r"^\$ echo TYPED$", s, re.M) is not None)
        terminal.type(b"fg\n")
        terminal.wait_for(lambda s: "$ fg" in s and RUNNING.search(s[s.index("$ fg"):])
                          is not None)
        assert not echoes(terminal)
        stop_and_see_the_echo_back(terminal)
    finally:
        terminal.close()


@pytest.mark.integration
def test_a_job_started_in_the_background_leaves_the_terminal_alone(tmp_path: Path) -> None:
    # The shell has the terminal: agentsup neither draws nor changes its modes (a
    # background process that tried would be stopped by the kernel, SIGTTOU).
    terminal = Terminal([JOBCONTROL, "--bg", *CLI, "start", str(demo_job(tmp_path))])
    try:
        terminal.wait_for(lambda s: s.rstrip().endswith("$"))
        terminal.pump(2.0)  # long enough for the job to be ready
        assert echoes(terminal)
        assert "demo: running" not in terminal.text()
        terminal.type(b"kill\n")
        terminal.type(b"wait\n")
        terminal.wait_for(lambda s: "[job exited 0]" in s)
        assert echoes(terminal)
    finally:
        terminal.close()


def _job_pid(shell_pid: int) -> int:
    """The job jobcontrol.py runs: its one child."""
    children = Path(f"/proc/{shell_pid}/task/{shell_pid}/children").read_text().split()
    assert len(children) == 1, children
    return int(children[0])


@pytest.mark.integration
def test_stopped_by_sigstop_the_view_silences_the_echo_again_on_fg(tmp_path: Path) -> None:
    # SIGSTOP cannot be caught: the view never hears of the stop, and the shell puts its
    # own modes (with the echo) back meanwhile. Continued in the foreground, the view
    # keeps drawing, so it must switch the echo off again.
    terminal = Terminal([JOBCONTROL, "--restore-modes", *CLI, "start",
                         str(demo_job(tmp_path))])
    try:
        terminal.wait_for(lambda s: RUNNING.search(s) is not None)
        assert not echoes(terminal)
        os.kill(_job_pid(terminal.pid), signal.SIGSTOP)
        terminal.wait_for(lambda s: "[job stopped]" in s)
        assert echoes(terminal)
        terminal.type(b"fg\n")
        deadline = time.monotonic() + 10
        while echoes(terminal) and time.monotonic() < deadline:
            terminal.pump(0.1)
        assert not echoes(terminal)
        stop_and_see_the_echo_back(terminal)
    finally:
        terminal.close()


@pytest.mark.integration
def test_a_view_drawn_on_another_terminal_leaves_its_echo_alone(tmp_path: Path) -> None:
    # Written to a terminal that is not agentsup's own, the view draws but must not
    # change that terminal's settings: someone else types there.
    other_master, other_slave = os.openpty()
    try:
        code = (f"import os, sys; os.dup2({other_slave}, 1); "
                "from agentsup.cli import main; sys.exit(main())")
        os.set_inheritable(other_slave, True)
        terminal = Terminal(["-c", code, "start", str(demo_job(tmp_path))])
        try:
            deadline = time.monotonic() + 30
            seen = b""
            while b"running" not in seen and time.monotonic() < deadline:
                ready, _, _ = select.select([other_master], [], [], 0.2)
                if ready:
                    seen += os.read(other_master, 65536)
            assert b"running" in seen
            assert termios.tcgetattr(other_master)[3] & termios.ECHO
            terminal.type(b"\x03")
            assert terminal.wait() == 0
        finally:
            terminal.close()
    finally:
        os.close(other_master)
        os.close(other_slave)


def one_table(screen: str) -> bool:
    return (len(re.findall(r"^demo: ", screen, re.M)) == 1
            and len(re.findall(r"^\d*\s+alpha\s", screen, re.M)) == 1)


@pytest.mark.integration
@pytest.mark.parametrize("columns", [80, 60, 140])
def test_the_table_follows_the_window_size(tmp_path: Path, columns: int) -> None:
    terminal = Terminal([*CLI, "start", str(demo_job(tmp_path))], columns=120, lines=30)
    try:
        terminal.wait_for(lambda s: RUNNING.search(s) is not None)
        terminal.resize(columns, 30)
        # Several redraws later (four a second), one table, each line within the width.
        terminal.pump(1.0)
        screen = terminal.wait_for(lambda s: one_table(s) and "demo: running" in s)
        assert re.search(r"^(st|stage) +agent", screen, re.M), screen
        terminal.type(b"\x03")
        assert terminal.wait() == 0
    finally:
        terminal.close()
    assert one_table(terminal.text()), terminal.text()
    assert re.search(r"^demo: stopped", terminal.text(), re.M), terminal.text()
