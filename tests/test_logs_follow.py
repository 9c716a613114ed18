"""`agentsup logs -f` against a real job: a burst is shown or counted, never lost in
silence; agents a reload adds are followed; a client that leaves early is no error.

Everything runs through the real CLI and the job's real Unix socket.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import socket
import subprocess
import threading
from pathlib import Path

import pytest
import yaml
from clirun import agent_entry, agentsup_command, free_ports, supervisor, write_job_document

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

BURST = 30_000  # per stream: more than a follower may fall behind by


def follow(*args: str) -> tuple[subprocess.Popen[str], queue.Queue[str]]:
    """`agentsup logs ... -f` with its stdout lines arriving in a queue."""
    process = subprocess.Popen(agentsup_command("logs", *args, "-f"), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=dict(os.environ))
    received: queue.Queue[str] = queue.Queue()
    stream = process.stdout
    assert stream is not None
    threading.Thread(target=lambda: [received.put(line) for line in stream],
                     daemon=True).start()
    return process, received


def test_a_burst_is_shown_or_counted_line_for_line(tmp_path: Path) -> None:
    port, = free_ports(1)
    job = write_job_document(tmp_path, [agent_entry("a", port, PRINT_LINES=BURST)],
                             {"type": "mesh"})
    with supervisor(job) as run:
        run.wait_for("job.ready")
        last = f"out line {BURST - 1}"
        run.wait_for("agent.output", where=lambda e: e.get("line") == last, timeout=120)
        follower, received = follow("t", "a", "-n", "1")
        try:
            assert received.get(timeout=60).startswith("a | ")  # connected from here on
            restarted = subprocess.run(agentsup_command("restart", "t", "a"),
                                       capture_output=True, text=True, timeout=120)
            assert restarted.returncode == 0, restarted.stderr
            # The restarted agent prints its burst before it listens, so it is all out
            # by the time the restart has answered; the job's end ends the follower.
            run.signal(signal.SIGTERM)
            assert run.wait() == 0
            _, stderr = follower.communicate(timeout=60)
        finally:
            if follower.poll() is None:
                follower.kill()
                follower.wait()
    shown = 0
    while not received.empty():
        line = received.get_nowait()
        assert line.startswith("a | "), line
        shown += bool(re.fullmatch(r"a \| (out|err) line \d+\n", line))  # not `listening`
    missed = [int(n) for n in re.findall(r"agentsup: (\d+) lines of a missed here", stderr)]
    assert stderr.count("agentsup:") == len(missed), stderr
    assert shown + sum(missed) == 2 * BURST


def test_following_every_agent_includes_one_a_reload_adds(tmp_path: Path) -> None:
    a_port, b_port = free_ports(2)
    job = write_job_document(tmp_path, [agent_entry("a", a_port, PRINT_LINES=1)],
                             {"type": "mesh"})
    with supervisor(job) as run:
        run.wait_for("job.ready")
        run.wait_for("agent.output", where=lambda e: e.get("line") == "err line 0")
        follower, received = follow("t", "-n", "1")
        try:
            assert received.get(timeout=60).startswith("a | ")
            document = yaml.safe_load(job.read_text())
            document["agents"].append(agent_entry("b", b_port, PRINT_LINES=1))
            job.write_text(yaml.safe_dump(document))
            reloaded = subprocess.run(agentsup_command("reload", "t"), capture_output=True,
                                      text=True, timeout=120)
            assert reloaded.returncode == 0, reloaded.stderr
            assert "added: b" in reloaded.stdout
            # In a mesh, a connects to b now and is restarted too: its lines come as well.
            wanted = {"b | out line 0\n", "b | err line 0\n"}
            while wanted:
                wanted.discard(received.get(timeout=60))
        finally:
            run.signal(signal.SIGTERM)
            run.wait()
            follower.kill()
            follower.wait()


def test_a_client_that_leaves_before_its_answer_is_no_error(tmp_path: Path) -> None:
    port, = free_ports(1)
    job = write_job_document(tmp_path, [agent_entry("a", port)], {"type": "mesh"})
    with supervisor(job) as run:
        socket_path = run.wait_for("job.loaded")["control"]
        run.wait_for("job.ready")
        body = b'{"agents": ["a"]}'
        with socket.socket(socket.AF_UNIX) as client:
            client.connect(socket_path)
            client.sendall(b"POST /v1/restart HTTP/1.1\r\nHost: x\r\n"
                           b"Content-Type: application/json\r\n"
                           b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        # Gone before the answer: the supervisor writes it to a closed socket.
        run.wait_for("agent.ready", where=lambda e: e.get("run") == 2)
        run.signal(signal.SIGTERM)
        assert run.wait() == 0
        stderr = run.stderr_text()
    assert "Traceback" not in stderr and "Exception" not in stderr, stderr
