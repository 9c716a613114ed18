"""Remote agents at the edges, against real OpenSSH servers (`tests/sshd.py`).

Long multi-byte lines, secrets and `ps`, daemons that escape the agent's process group,
and two agents on one host that is lost. The servers run on this machine, so remote
processes are checked through /proc and `ps`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest
import test_ssh as base
from clirun import free_ports, pid_alive, supervisor, wait_gone
from sshd import SshHosts, ssh_hosts

from agentsup.runners._ssh_wire import Session
from agentsup.runners.base import BatchOutput, ExitStatus
from agentsup.runners.lines import Line

__all__ = ["ssh_hosts"]  # the fixture, imported for pytest

pytestmark = [pytest.mark.integration]

job_name = base.job_name

EDGE_AGENT = '''\
"""remote_agent.py (the test agent on its host's address), with a few extra behaviours."""
import json
import os
import sys
import threading
import time

if os.environ.get("LONG_LINE"):
    sys.stdout.write(os.environ["LONG_LINE"] * int(os.environ["LONG_COUNT"]) + "\\n")
    sys.stdout.write("after the long line\\n")
    sys.stdout.flush()

if os.environ.get("DAEMON") == "1":
    read_end, write_end = os.pipe()
    first = os.fork()
    if first == 0:
        os.setsid()
        if os.fork() == 0:
            # The daemon: its own session, deaf to SIGTERM, stdio closed.
            import signal
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            os.write(write_end, str(os.getpid()).encode())
            os.close(write_end)
            null = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(null, fd)
            time.sleep(600)
        os._exit(0)
    os.close(write_end)
    os.waitpid(first, 0)
    daemon = int(os.read(read_end, 32))
    print(json.dumps({"kind": "daemon", "pid": daemon}), flush=True)

crash_file = os.environ.get("CRASH_FILE")
if crash_file:
    def watch():
        while not os.path.exists(crash_file):
            time.sleep(0.05)
        os.unlink(crash_file)
        os._exit(3)
    threading.Thread(target=watch, daemon=True).start()

with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "remote_agent.py")) as f:
    code = compile(f.read(), "remote_agent.py", "exec")
exec(code, {"__name__": "__main__"})
'''


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    directory = tmp_path / "remote"
    directory.mkdir()
    (directory / "remote_agent.py").write_text(base.LAUNCHER)
    (directory / "edge_agent.py").write_text(EDGE_AGENT)
    return directory


def edge_agent(agent_id: str, port: int, server: object, hosts: SshHosts, workdir: Path,
               **env: object) -> dict[str, object]:
    entry = base.remote_agent(agent_id, port, server, hosts, workdir, **env)  # type: ignore[arg-type]
    entry["module"] = "edge_agent"
    return entry


def daemons(events: list[dict[str, object]], agent: str) -> list[int]:
    pids = []
    for event in events:
        payload = event.get("payload")
        if event.get("agent") == agent and isinstance(payload, dict) \
                and payload.get("kind") == "daemon":
            pids.append(int(payload["pid"]))
    return pids


# ---------------------------------------------------------------------- long lines


@pytest.mark.timeout(90)
def test_a_1_mb_line_of_multibyte_text_arrives_exactly_in_numbered_pieces(
    tmp_path: Path, ssh_hosts: SshHosts, workdir: Path, job_name: str
) -> None:
    (port,) = free_ports(1)
    count = 512 * 1024  # "é" is two bytes: one 1 MiB line
    job = base.write_job(
        tmp_path, job_name,
        [edge_agent("one", port, ssh_hosts.a, ssh_hosts, workdir,
                    LONG_LINE="é", LONG_COUNT=count)],
        {"type": "mesh"}, ssh={"known_hosts": str(ssh_hosts.known_hosts)},
    )
    with supervisor(job) as run:
        run.wait_for("agent.output", timeout=60,
                     where=lambda e: e.get("line") == "after the long line")
        pieces = [e for e in run.named("agent.output")
                  if e.get("agent") == "one" and "part" in e]
        assert len(pieces) > 1
        assert [e["part"] for e in pieces] == list(range(1, len(pieces) + 1))
        assert [e["continued"] for e in pieces] == [True] * (len(pieces) - 1) + [False]
        assert all(e["stream"] == "stdout" for e in pieces)
        joined = "".join(str(e["line"]) for e in pieces)
        assert joined == "é" * count
        # Each piece is at most 64 KiB of UTF-8.
        assert max(len(str(e["line"]).encode()) for e in pieces) <= 64 * 1024
        after = run.wait_for("agent.output", where=lambda e: e.get("line") == "after the long line")
        assert "part" not in after and "continued" not in after
        run.signal(signal.SIGTERM)
        assert run.wait(timeout=30) == 0


# ---------------------------------------------------------------------- secrets


class PsPoll:
    """Looks for `needle` in every process's command line, over and over, on threads.

    One thread runs `ps -eo args`; another reads /proc/*/cmdline directly, which is
    what ps does, many times faster, so that even a command line that lives for a few
    milliseconds is seen.
    """

    def __init__(self, needle: str) -> None:
        self.needle = needle
        self.hits: list[str] = []
        self.polls = 0
        self.sweeps = 0
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._ps, daemon=True),
                         threading.Thread(target=self._proc, daemon=True)]
        for thread in self._threads:
            thread.start()

    def _ps(self) -> None:
        while not self._stop.is_set():
            out = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
            self.polls += 1
            self.hits += [line for line in out.splitlines() if self.needle in line]

    def _proc(self) -> None:
        needle = self.needle.encode()
        while not self._stop.is_set():
            for name in os.listdir("/proc"):
                if not name.isdigit():
                    continue
                try:
                    with open(f"/proc/{name}/cmdline", "rb") as handle:
                        args = handle.read()
                except OSError:
                    continue
                if needle in args:
                    self.hits.append(args.replace(b"\0", b" ").decode(errors="replace"))
            self.sweeps += 1

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)


@pytest.mark.timeout(120)
def test_remote_environment_values_never_show_in_the_process_list(
    tmp_path: Path, ssh_hosts: SshHosts, workdir: Path, job_name: str
) -> None:
    secret = "s3cret-" + uuid.uuid4().hex
    ports = free_ports(3)
    job = base.write_job(
        tmp_path, job_name,
        [base.remote_agent(f"agent{i}", port, ssh_hosts.a, ssh_hosts, workdir,
                           SECRET_TOKEN=secret, PRINT_ENV=1)
         for i, port in enumerate(ports)],
        {"type": "mesh"}, ssh={"known_hosts": str(ssh_hosts.known_hosts)},
    )
    poll = PsPoll(secret)
    try:
        for _ in range(2):  # two starts, each with its pre-start checks and launches
            with supervisor(job) as run:
                run.wait_for("job.ready", timeout=60)
                env = run.wait_for(
                    "agent.output",
                    where=lambda e: (e.get("payload") or {}).get("kind") == "env",
                )["payload"]["env"]
                # The value did reach the agent, so the poll looked for the right text.
                assert env["SECRET_TOKEN"] == secret
                run.signal(signal.SIGTERM)
                assert run.wait(timeout=30) == 0
    finally:
        poll.stop()
    assert poll.polls > 10 and poll.sweeps > 100
    assert poll.hits == []


# ---------------------------------------------------------------------- escaped daemons


@pytest.mark.timeout(120)
def test_setsid_daemons_of_a_remote_agent_end_when_it_crashes_and_when_agentsup_stops(
    tmp_path: Path, ssh_hosts: SshHosts, workdir: Path, job_name: str
) -> None:
    (port,) = free_ports(1)
    crash = tmp_path / "crash-now"
    job = base.write_job(
        tmp_path, job_name,
        [edge_agent("one", port, ssh_hosts.a, ssh_hosts, workdir,
                    DAEMON=1, CRASH_FILE=str(crash))],
        {"type": "mesh"}, ssh={"known_hosts": str(ssh_hosts.known_hosts)},
        restart={"policy": "on-failure", "max_restarts": 3, "window": 60,
                 "backoff": {"initial": 0.2, "factor": 2, "max": 1}},
    )
    with supervisor(job) as run:
        run.wait_for("job.ready", timeout=60)
        first_agent = int(base.started(run, "one")["pid"])
        run.wait_for("agent.output", where=lambda e: e.get("agent") == "one"
                     and (e.get("payload") or {}).get("kind") == "daemon")
        (first,) = daemons(run.events, "one")
        # It really escaped: a session and group of its own, no longer under the agent.
        assert pid_alive(first) and os.getsid(first) == os.getpgid(first) != first_agent
        assert base.parent_of(first) != first_agent

        mark = len(run.events)
        crash.touch()
        exited = run.wait_for("agent.exited", after=mark, where=lambda e: e.get("agent") == "one")
        assert exited["exit_code"] == 3
        assert wait_gone([first], 8.0) == [], "the daemon outlived its crashed agent"
        run.wait_for("agent.ready", timeout=60, after=mark)
        run.wait_for("agent.output", after=mark, where=lambda e: e.get("agent") == "one"
                     and (e.get("payload") or {}).get("kind") == "daemon")
        second = daemons(run.events[mark:], "one")[0]
        assert second != first and pid_alive(second)

        run.signal(signal.SIGTERM)
        assert run.wait(timeout=30) == 0
        assert wait_gone([second], 8.0) == [], "the daemon outlived agentsup's stop"
        assert base.records(job_name) == []
        time.sleep(0.2)
        assert not pid_alive(first) and not pid_alive(second)


# ---------------------------------------------------------------------- a lost host


@pytest.mark.timeout(120)
def test_the_agents_of_a_lost_host_share_one_reconnect_per_attempt(
    tmp_path: Path, ssh_hosts: SshHosts, workdir: Path, job_name: str
) -> None:
    ports = free_ports(3)
    job = base.write_job(
        tmp_path, job_name,
        [
            base.remote_agent("one", ports[0], ssh_hosts.b, ssh_hosts, workdir),
            base.remote_agent("two", ports[1], ssh_hosts.b, ssh_hosts, workdir),
            base.remote_agent("other", ports[2], ssh_hosts.a, ssh_hosts, workdir),
        ],
        {"type": "mesh"},
        ssh={"known_hosts": str(ssh_hosts.known_hosts), "timeout": 2},
        restart={"policy": "on-failure", "max_restarts": 2, "window": 60,
                 "backoff": {"initial": 0.2, "factor": 2, "max": 1}},
    )
    with supervisor(job) as run:
        run.wait_for("job.ready", timeout=60)
        pids = [int(base.started(run, a)["pid"]) for a in ("one", "two")]
        ssh_hosts.b.kill_all()
        assert run.wait(timeout=90) == 1
        host_b = f"root@127.0.0.3:{ssh_hosts.b.port}"
        reconnecting = [e for e in run.named("ssh.reconnecting") if e["host"] == host_b]
        # One reconnect series per restart attempt, shared by both agents of the host
        # (one after another would be two series per attempt).
        series = [e for e in reconnecting if e["attempt"] == 1]
        for agent in ("one", "two"):
            attempts = [e["attempt"] for e in run.named("agent.restarting")
                        if e.get("agent") == agent]
            assert attempts == [1, 2]
        failed = run.wait_for("agent.failed")
        assert "could not connect to root@127.0.0.3" in failed["reason"]
        # Each failed attempt says why: both attempts of the agent that failed (the job
        # was stopping by the time the other's second attempt failed).
        reasons = {
            agent: [e["reason"] for e in run.named("agent.restart_failed")
                    if e.get("agent") == agent]
            for agent in ("one", "two")
        }
        assert len(reasons[failed["agent"]]) == 2
        assert all(len(texts) >= 1 for texts in reasons.values())
        assert all("could not connect to root@127.0.0.3" in text
                   for texts in reasons.values() for text in texts)
        assert len(series) == 2, reconnecting
        assert len(run.named("ssh.connection_lost")) == 1
        assert not [e for e in run.named("ssh.reconnecting") if e["host"] != host_b]
        assert wait_gone(pids, 8.0) == []


# ---------------------------------------------------------------------- the relay alone


def test_the_watchdog_relay_frames_pieces_between_characters(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The watchdog's line relay on its own (it runs remotely as a script; loaded here
    from its file, its `send` replaced by a list)."""
    import importlib.util

    path = Path(base.__file__).resolve().parents[1] / "agentsup" / "programs" / "ssh_watchdog.py"
    spec = importlib.util.spec_from_file_location("watchdog_under_test", path)
    assert spec is not None and spec.loader is not None
    watchdog = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(watchdog)
    frames: list[tuple[str, bytes]] = []
    monkeypatch.setattr(watchdog, "send", lambda kind, payload=b"": frames.append((kind, payload)))
    relay = watchdog.Relay("O")
    data = ("ü" * 70000).encode() + b"\r\nshort\r\n" + b"tail"
    for start in range(0, len(data), 4093):  # odd chunk sizes: cuts fall anywhere
        relay.feed(data[start:start + 4093])
    relay.flush()
    kinds = [kind for kind, _ in frames]
    assert kinds == ["o", "o", "O", "O", "O"]
    assert all(len(payload) <= watchdog.LINE_LIMIT for _, payload in frames)
    assert b"".join(payload for _, payload in frames[:3]).decode() == "ü" * 70000
    assert [payload for _, payload in frames[3:]] == [b"short", b"tail"]


def test_the_relay_passes_each_run_of_one_streams_frames_on_in_one_call() -> None:
    """The supervisor's end of the wire, on frames as `relay` splits them from a read."""
    calls: list[tuple[str, list[Line]]] = []
    exits: list[ExitStatus] = []
    session = Session(BatchOutput(lambda stream, batch: calls.append((stream, list(batch)))),
                      exits.append)
    status = session.frames([b"O one", b"O two", b"e pie", b"E ce", b"O three", b"o l\xc3\xbc",
                             b"O ng", b"Q unknown", b"X 3 -"])
    assert calls == [
        ("stdout", [Line("one"), Line("two")]),
        ("stderr", [Line("pie", 1, True), Line("ce", 2, False)]),
        ("stdout", [Line("three"), Line("lü", 1, True), Line("ng", 2, False)]),
    ]
    assert status == ExitStatus(3, None)
    # The numbering of a piece sequence carries over from one read to the next.
    assert session.frames([b"e a"]) is None and session.frames([b"E b", b"E c"]) is None
    assert calls[-2:] == [("stderr", [Line("a", 1, True)]),
                          ("stderr", [Line("b", 2, False), Line("c")])]
    assert exits == []  # reported by the relay once the session ends, not here
