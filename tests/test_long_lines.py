"""Over-long output lines of a local agent, through the real CLI.

Every target cuts a line longer than 64 KiB into pieces between UTF-8 characters and
numbers them; the SSH and container cases are in test_ssh_edges.py and
test_docker_edges.py.
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import pytest
from clirun import TEST_AGENT, free_ports, supervisor, write_job_document

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

SOURCE = f"""\
import runpy, sys
sys.stdout.write("€" * 100000 + "\\n")   # 300000 bytes: five pieces
sys.stderr.write("short on stderr\\n")
sys.stdout.write("a line of its own\\n")
sys.stdout.write('{{"kind": "json", "n": 1}}\\n')
sys.stdout.flush()
sys.argv = [{str(TEST_AGENT)!r}]
runpy.run_path({str(TEST_AGENT)!r}, run_name="__main__")
"""


def test_a_long_local_line_arrives_in_numbered_pieces_that_join_exactly(tmp_path: Path) -> None:
    (port,) = free_ports(1)
    agent = {"id": "talker", "command": [sys.executable, "-c", SOURCE], "config": {"port": port}}
    job = write_job_document(tmp_path, [agent], {"type": "mesh"})
    with supervisor(job) as run:
        run.wait_for("job.ready")
        run.wait_for("agent.output", where=lambda e: "payload" in e)
        output = run.named("agent.output")
        pieces = [e for e in output if "part" in e]
        assert [e["part"] for e in pieces] == [1, 2, 3, 4, 5]
        assert [e["continued"] for e in pieces] == [True, True, True, True, False]
        assert all(len(str(e["line"]).encode()) <= 64 * 1024 for e in pieces)
        assert "".join(str(e["line"]) for e in pieces) == "€" * 100000
        whole = [e for e in output if "part" not in e]
        assert [e.get("line") for e in whole if e["stream"] == "stdout" and "line" in e] == [
            "a line of its own"
        ]
        assert all("continued" not in e for e in whole)
        assert {"kind": "json", "n": 1} in [e["payload"] for e in whole if "payload" in e]
        run.signal(signal.SIGTERM)
        assert run.wait() == 0
