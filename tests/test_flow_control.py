"""Flow control: a reader of stdout that is slow but still reading loses nothing.

Real CLI, real agents, and a real reader process that takes the CLI's stdout in small
chunks with short sleeps (far slower than the agents write), so agentsup's backlog goes
over its limit (`linewriter.OUTPUT_BACKLOG_BYTES`) and the local hub has to stop
reading the agents' pipes. A reader that stops altogether must still not hold the
agents back: their output beyond the limit is then dropped and counted, as before.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from clirun import TEST_AGENT, agentsup_command, free_ports, write_job_document

from agentsup.linewriter import OUTPUT_BACKLOG_BYTES

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

PAD = "p" * 60
BURST = 40_000
"""Lines per burst: each an event of about 200 bytes, so about twice the backlog limit."""

# Waits for GO_DIR/go<round>, writes a burst of numbered lines and "ID end ROUND",
# then touches GO_DIR/done<round>-ID; exits with EXIT_AT_END after the last round.
# Meanwhile the test agent serves /health on the main thread.
AGENT = f"""
import os, runpy, sys, threading, time
me, base = os.environ["AGENT_ID"], os.environ["GO_DIR"]
burst, rounds = int(os.environ["BURST"]), int(os.environ.get("ROUNDS", "1"))
def talk():
    for r in range(1, rounds + 1):
        while not os.path.exists(os.path.join(base, f"go{{r}}")):
            time.sleep(0.02)
        for start in range(0, burst, 1000):
            sys.stdout.write("".join(
                f"{{me}} {{r}} {{i:07d}} {PAD}\\n" for i in range(start, min(start + 1000, burst))
            ))
        sys.stdout.write(f"{{me}} end {{r}}\\n")
        sys.stdout.flush()
        open(os.path.join(base, f"done{{r}}-{{me}}"), "w").close()
    if "EXIT_AT_END" in os.environ:
        os._exit(int(os.environ["EXIT_AT_END"]))
threading.Thread(target=talk, daemon=True).start()
sys.argv = [{str(TEST_AGENT)!r}]
runpy.run_path({str(TEST_AGENT)!r}, run_name="__main__")
"""

# Copies stdin to a file 8 KiB at a time with a 2 ms sleep between reads, except while
# the HOLD file exists: then it reads nothing at all.
READER = """
import os, sys, time
out, hold = open(sys.argv[1], "wb"), sys.argv[2]
while True:
    if os.path.exists(hold):
        time.sleep(0.05)
        continue
    chunk = os.read(0, 8192)
    if not chunk:
        break
    out.write(chunk)
    out.flush()
    time.sleep(0.002)
"""


class Run:
    """The CLI piped into the slow reader; events are read back from the reader's file."""

    def __init__(self, tmp_path: Path, cli: subprocess.Popen[bytes],
                 reader: subprocess.Popen[bytes]) -> None:
        self.out = tmp_path / "out"
        self.hold = tmp_path / "hold"
        self.cli = cli
        self.reader = reader

    def text(self) -> str:
        return self.out.read_text() if self.out.exists() else ""

    def wait_for(self, condition: Callable[[], bool], what: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert self.cli.poll() is None or self.reader.poll() is None, what
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            time.sleep(0.05)

    def wait_for_text(self, needle: str, timeout: float = 120) -> None:
        self.wait_for(lambda: needle in self.text(), repr(needle), timeout)

    def finish(self) -> list[dict[str, Any]]:
        """SIGTERM the job, let the reader take everything, and parse the events."""
        self.cli.send_signal(signal.SIGTERM)
        assert self.cli.wait(timeout=120) == 0
        assert self.reader.wait(timeout=120) == 0
        return [json.loads(line) for line in self.text().splitlines()]


@contextmanager
def piped_run(tmp_path: Path, agents: list[str], **env: Any) -> Iterator[Run]:
    ports = free_ports(len(agents))
    entries = [
        {"id": name, "command": [sys.executable, "-c", AGENT], "config": {"port": port},
         "deployment": {"environment": {"GO_DIR": str(tmp_path), "BURST": str(BURST),
                                        **{k: str(v) for k, v in env.items()}}}}
        for name, port in zip(agents, ports, strict=True)
    ]
    job = write_job_document(tmp_path, entries, {"type": "mesh"}, name="flow")
    with (tmp_path / "stderr").open("w") as stderr:
        cli = subprocess.Popen(
            agentsup_command("start", str(job), "--log-format", "json"),
            stdout=subprocess.PIPE, stderr=stderr, start_new_session=True,
        )
    assert cli.stdout is not None
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(tmp_path / "out"), str(tmp_path / "hold")],
        stdin=cli.stdout,
    )
    cli.stdout.close()  # the reader holds the only read end
    run = Run(tmp_path, cli, reader)
    try:
        run.wait_for_text('"event":"job.ready"')
        yield run
    finally:
        run.hold.unlink(missing_ok=True)
        for process in (cli, reader):
            if process.poll() is None:
                process.kill()
                process.wait()


def burst_indices(events: list[dict[str, Any]], agent: str, round_: int) -> list[int]:
    """The numbers of the burst lines of one round that reached the stream, in order."""
    prefix = f"{agent} {round_} "
    return [int(e["line"].split()[2]) for e in events
            if e["event"] == "agent.output" and e.get("line", "").startswith(prefix)]


def dropped(events: list[dict[str, Any]]) -> int:
    return sum(e["count"] for e in events if e["event"] == "events.dropped")


def test_a_slow_but_steady_reader_gets_every_line_of_a_burst_beyond_the_backlog(
    tmp_path: Path,
) -> None:
    with piped_run(tmp_path, ["a", "b"]) as run:
        (tmp_path / "go1").touch()
        run.wait_for_text("a end 1")
        run.wait_for_text("b end 1")
        events = run.finish()
    assert dropped(events) == 0
    output = [e for e in events if e["event"] == "agent.output"]
    assert sum(len(json.dumps(e)) for e in output) > 2 * OUTPUT_BACKLOG_BYTES
    for agent in "ab":
        assert burst_indices(events, agent, 1) == list(range(BURST))
        assert [e["line"] for e in output if e.get("line") == f"{agent} end 1"]
    assert events[-1]["event"] == "job.stopped"


def test_a_reader_that_stops_does_not_hold_agents_back_and_flow_control_returns_with_it(
    tmp_path: Path,
) -> None:
    with piped_run(tmp_path, ["a"], ROUNDS=3) as run:
        # Slow reading: the first burst arrives whole.
        (tmp_path / "go1").touch()
        run.wait_for_text("a end 1")
        # No reading at all: the agent still gets through its second burst, and
        # what did not fit is dropped.
        run.hold.touch()
        (tmp_path / "go2").touch()
        run.wait_for(lambda: (tmp_path / "done2-a").exists(), "the burst while nobody reads")
        # Reading again: once the reader has taken something, flow control is back
        # and the third burst arrives whole.
        taken = run.out.stat().st_size
        run.hold.unlink()
        run.wait_for(lambda: run.out.stat().st_size > taken + 512 * 1024, "reading again")
        (tmp_path / "go3").touch()
        run.wait_for_text("a end 3")
        events = run.finish()
    assert burst_indices(events, "a", 1) == list(range(BURST))
    assert burst_indices(events, "a", 3) == list(range(BURST))
    second = burst_indices(events, "a", 2)
    assert second == sorted(second) and len(second) < BURST
    ends = [e["line"] for e in events if e.get("line", "").startswith("a end ")]
    assert dropped(events) == BURST + 1 - len(second) - (ends.count("a end 2"))
    assert ends[0] == "a end 1" and ends[-1] == "a end 3"
    notice = next(i for i, e in enumerate(events) if e["event"] == "events.dropped")
    first_of_third = next(i for i, e in enumerate(events)
                          if e.get("line", "").startswith("a 3 "))
    assert notice < first_of_third
    names = [e["event"] for e in events]
    assert names[-1] == "job.stopped" and "job.stopping" in names and "agent.stopped" in names


def test_exits_while_reading_is_paused_come_after_all_the_agents_output(
    tmp_path: Path,
) -> None:
    agents = ["a", "b", "c"]
    with piped_run(tmp_path, agents, EXIT_AT_END=0) as run:
        (tmp_path / "go1").touch()
        run.wait_for(lambda: run.text().count('"event":"agent.exited"') == len(agents),
                     "every agent's exit")
        events = run.finish()
    assert dropped(events) == 0
    for agent in agents:
        mine = [(i, e) for i, e in enumerate(events) if e.get("agent") == agent]
        exited = [i for i, e in mine if e["event"] == "agent.exited"]
        assert len(exited) == 1 and events[exited[0]]["exit_code"] == 0
        last_output = max(i for i, e in mine if e["event"] == "agent.output")
        assert last_output < exited[0]
        assert events[last_output]["line"] == f"{agent} end 1"
        assert burst_indices(events, agent, 1) == list(range(BURST))
