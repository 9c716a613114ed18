"""Agents have no terminal: each is started as the leader of a new session.

Run in a real pseudo-terminal, `agentsup start` is the terminal's foreground job. An
agent in the same session could open that terminal: write over the live view, or ask
it a question the way `git`, `ssh` or `sudo` ask for a password, and a read from the
terminal by a process outside the foreground group stops that process (SIGTTIN), so the
agent would never become ready. In a session of its own the agent has no terminal to
open, and such a question fails at once.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.clirun import TEST_AGENT, free_ports, write_job_document
from tests.terminal import Terminal

CLI = ["-c", "import sys; from agentsup.cli import main; sys.exit(main())"]

ASKS = (
    'printf "Password for the agent: " > /dev/tty; read -r answer < /dev/tty; '
    'echo "asked the terminal: status $?" > "$ASKED"; exec "$PYTHON" "$AGENT"'
)


@pytest.mark.integration
def test_an_agent_that_asks_the_terminal_gets_no_terminal_and_runs(tmp_path: Path) -> None:
    (port,) = free_ports(1)
    asked = tmp_path / "asked"
    job = write_job_document(
        tmp_path,
        [{"id": "asker", "command": ["sh", "-c", ASKS], "config": {"port": port},
          "deployment": {"environment": {"ASKED": str(asked), "PYTHON": sys.executable,
                                         "AGENT": str(TEST_AGENT)}}}],
        {"type": "dynamic"}, name="tty",
    )
    terminal = Terminal([*CLI, "start", str(job)])
    try:
        terminal.wait_for(lambda s: "running, 1 of 1 agents ready" in s)
        assert asked.read_text().startswith("asked the terminal: status ")
        assert asked.read_text().strip() != "asked the terminal: status 0"
        assert "Password for the agent" not in terminal.raw.decode(errors="replace")
        terminal.type(b"\x03")
        terminal.wait_for(lambda s: "job stopped, exit code 0" in s)
        assert terminal.wait() == 0
    finally:
        terminal.close()
