"""Remote agents over SSH, end to end, against real OpenSSH servers.

Two sshd servers (`tests/sshd.py`) on 127.0.0.2 and 127.0.0.3 act as two hosts. They
run on this machine, so remote processes can be checked through /proc. Remote agents are
`tests/agents/testagent.py`, started through a small module that makes it listen on its
host's address (127.0.0.2 or .3) instead of 127.0.0.1, so that the URL in the plan
(`http://HOST:PORT`) is the one that answers.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path
from typing import Any

import pytest
import yaml
from clirun import (
    TEST_AGENT,
    Event,
    Supervisor,
    agent_entry,
    agentsup_command,
    free_ports,
    pid_alive,
    supervisor,
    wait_gone,
)
from sshd import SshHosts, SshServer, keygen, ssh_hosts

__all__ = ["ssh_hosts"]  # the fixture, imported for pytest

pytestmark = [pytest.mark.integration]

REMOTE_HOME = Path(pwd.getpwnam("root").pw_dir)

LAUNCHER = f'''\
"""testagent.py, listening on BIND_ADDRESS (its host's address) instead of 127.0.0.1."""
import http.server
import os
import runpy
import sys

_bind = os.environ.get("BIND_ADDRESS")
if _bind:
    _original = http.server.ThreadingHTTPServer.__init__

    def _init(self, address, handler, *args, **kwargs):
        _original(self, (_bind, address[1]), handler, *args, **kwargs)

    http.server.ThreadingHTTPServer.__init__ = _init
sys.argv = [{str(TEST_AGENT)!r}]
runpy.run_path({str(TEST_AGENT)!r}, run_name="__main__")
'''


@pytest.fixture
def job_name() -> Iterator[str]:
    """A job name of its own, and its run-record directory removed afterwards."""
    name = f"ssh-test-{uuid.uuid4().hex[:8]}"
    yield name
    shutil.rmtree(REMOTE_HOME / ".agentsup" / name, ignore_errors=True)
    with suppress(OSError):
        (REMOTE_HOME / ".agentsup").rmdir()


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """The remote agents' working directory, with the `remote_agent` module."""
    directory = tmp_path / "remote"
    directory.mkdir()
    (directory / "remote_agent.py").write_text(LAUNCHER)
    return directory


def remote_agent(
    agent_id: str,
    port: int,
    server: SshServer,
    hosts: SshHosts,
    workdir: Path,
    **env: Any,
) -> dict[str, Any]:
    return {
        "id": agent_id,
        "module": "remote_agent",
        "config": {"port": port},
        "deployment": {
            "target": "remote",
            "host": server.address,
            "port": server.port,
            "user": "root",
            "ssh_key": str(hosts.user_key),
            "python": sys.executable,
            "workdir": str(workdir),
            "environment": {"BIND_ADDRESS": server.address, **{k: str(v) for k, v in env.items()}},
        },
    }


def local_agent(agent_id: str, port: int, **env: Any) -> dict[str, Any]:
    return agent_entry(agent_id, port, **env)


def write_job(
    tmp_path: Path,
    name: str,
    agents: list[dict[str, Any]],
    topology: dict[str, Any],
    *,
    ssh: dict[str, Any],
    environment: dict[str, str] | None = None,
    **deployment: Any,
) -> Path:
    document = {
        "job": {"name": name},
        "deployment": {
            "timeout": 20,
            "stop_timeout": 3,
            "health_check": {"interval": 0.5, "retries": 2, "timeout": 1},
            "ssh": {"timeout": 5, **ssh},
            **deployment,
        },
        "agents": agents,
        "topology": topology,
        "environment": environment or {},
    }
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def records(job: str) -> list[Path]:
    directory = REMOTE_HOME / ".agentsup" / job
    return sorted(directory.glob("*/*.json")) if directory.exists() else []


def parent_of(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as handle:
        return int(handle.read().rsplit(")", 1)[1].split()[1])


def pgid_of(pid: int) -> int:
    return os.getpgid(pid)


def started(run: Supervisor, agent: str) -> Event:
    return run.wait_for("agent.started", where=lambda e: e.get("agent") == agent)


def index_for(run: Supervisor, name: str, agent: str) -> int:
    return run.index_of(name, lambda event: event.get("agent") == agent)


def grandchildren(run: Supervisor, agent: str) -> list[int]:
    return [
        int(e["payload"]["pid"])
        for e in run.named("agent.output")
        if e.get("agent") == agent and (e.get("payload") or {}).get("kind") == "grandchild"
    ]


# ---------------------------------------------------------------------- happy path


@pytest.mark.timeout(90)
def test_mixed_job_comes_up_stage_by_stage_streams_output_and_sigterm_leaves_nothing(
    tmp_path: Path, ssh_hosts: SshHosts, workdir: Path, job_name: str
) -> None:
    front, middle, back = free_ports(3)
    tricky = "it's \"quoted\" $HOME `date` \\ and spaced"
    job = write_job(
        tmp_path,
        job_name,
        [
            local_agent("front", front),
            remote_agent("middle", middle, ssh_hosts.a, ssh_hosts, workdir,
                         PRINT_ENV=1, PRINT_LINES=3, GRANDCHILD=1, TRICKY=tricky),
            remote_agent("back", back, ssh_hosts.b, ssh_hosts, workdir, GRANDCHILD=1),
        ],
        {"type": "pipeline", "stages": ["front", "middle", "back"]},
        ssh={"known_hosts": str(ssh_hosts.known_hosts)},
        environment={"SHARED": "job-level"},
    )
    with supervisor(job) as run:
        run.wait_for("job.ready", timeout=60)
        # Stage by stage: back (host b), then middle (host a), then front (here).
        ready = {a: index_for(run, "agent.ready", a) for a in ("front", "middle", "back")}
        starting = {a: index_for(run, "agent.starting", a) for a in ("front", "middle", "back")}
        assert ready["back"] < starting["middle"] and ready["middle"] < starting["front"]

        middle_started, back_started = started(run, "middle"), started(run, "back")
        assert middle_started["host"] == "127.0.0.2" and back_started["host"] == "127.0.0.3"
        ready_events = {e["agent"]: e for e in run.named("agent.ready")}
        assert ready_events["middle"]["url"] == f"http://127.0.0.2:{middle}"
        assert ready_events["back"]["url"] == f"http://127.0.0.3:{back}"

        # The remote pids are real, lead their own group, and are not our children.
        remote_pids = [int(middle_started["pid"]), int(back_started["pid"])]
        for pid in remote_pids:
            assert pid_alive(pid)
            assert pgid_of(pid) == pid
            assert parent_of(pid) != run.process.pid
        remote_pids += grandchildren(run, "middle") + grandchildren(run, "back")
        assert len(remote_pids) == 4
        assert sorted(p.stem for p in records(job_name)) == ["back", "middle"]
        record = json.loads(records(job_name)[1].read_text())
        assert record["pid"] == record["pgid"] == remote_pids[0]

        # The environment contract reached the remote agent, quoting intact.
        env_event = run.wait_for(
            "agent.output",
            where=lambda e: e.get("agent") == "middle"
            and (e.get("payload") or {}).get("kind") == "env",
        )
        env = env_event["payload"]["env"]
        assert env["AGENT_ID"] == "middle"
        assert env["AGENT_PORT"] == str(middle)
        assert env["CONNECTED_AGENTS"] == f"http://127.0.0.3:{back}"
        assert json.loads(env["AGENTSUP_CONNECTIONS"]) == {"back": f"http://127.0.0.3:{back}"}
        assert env["AGENTSUP_JOB"] == env["JOB_ID"] == job_name
        assert env["SHARED"] == "job-level"
        assert env["TRICKY"] == tricky
        assert env["PWD"] == str(workdir)

        # Output streamed, stdout and stderr apart, line by line.
        lines = [(e["stream"], e.get("line")) for e in run.named("agent.output")
                 if e.get("agent") == "middle" and "line" in e]
        for i in range(3):
            assert ("stdout", f"out line {i}") in lines
            assert ("stderr", f"err line {i}") in lines

        local_pid = int(started(run, "front")["pid"])
        run.signal(signal.SIGTERM)
        assert run.wait(timeout=30) == 0
        stopped = {e["agent"] for e in run.named("agent.stopped")}
        assert stopped == {"front", "middle", "back"}
        assert run.events[-1]["event"] == "job.stopped"
        assert wait_gone([*remote_pids, local_pid], 3.0) == []
        assert records(job_name) == []
        assert ssh_hosts.a.session_pids() == [] or wait_sessions_gone(ssh_hosts, 5.0)


def wait_sessions_gone(hosts: SshHosts, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while any(s.session_pids() for s in hosts.servers):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


# ---------------------------------------------------------------------- supervisor death


@pytest.mark.timeout(90)
def test_sigkilled_supervisor_leaves_nothing_behind_within_10_s_with_ssh_config_aliases(
    tmp_path: Path, ssh_hosts: SshHosts, workdir: Path, job_name: str
) -> None:
    port_a, port_b = free_ports(2)
    agents = []
    for agent_id, alias, port, server in (
        ("one", "host-a", port_a, ssh_hosts.a),
        ("two", "host-b", port_b, ssh_hosts.b),
    ):
        agents.append(
            {
                "id": agent_id,
                "module": "remote_agent",
                "config": {"port": port},
                # Only the alias: HostName, Port, User and IdentityFile come from
                # $HOME/.ssh/config, the host keys from $HOME/.ssh/known_hosts.
                "deployment": {
                    "target": "remote",
                    "host": alias,
                    "python": sys.executable,
                    "workdir": str(workdir),
                    "environment": {"BIND_ADDRESS": server.address, "GRANDCHILD": "1",
                                    "IGNORE_TERM": "1"},
                },
            }
        )
    job = write_job(tmp_path, job_name, agents, {"type": "mesh"}, ssh={})
    with supervisor(job, env={"HOME": str(ssh_hosts.home)}) as run:
        run.wait_for("job.ready", timeout=60)
        urls = {e["agent"]: e["url"] for e in run.named("agent.ready")}
        assert urls == {"one": f"http://127.0.0.2:{port_a}", "two": f"http://127.0.0.3:{port_b}"}
        pids = [int(started(run, a)["pid"]) for a in ("one", "two")]
        pids += grandchildren(run, "one") + grandchildren(run, "two")
        assert len(pids) == 4 and all(pid_alive(p) for p in pids)
        os.killpg(run.process.pid, signal.SIGKILL)
        run.process.wait(timeout=10)
        killed_at = time.monotonic()
        assert wait_gone(pids, 10.0) == [], "remote agents outlived the supervisor"
        assert time.monotonic() - killed_at < 10.0
        deadline = time.monotonic() + 5
        while records(job_name) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert records(job_name) == []


@pytest.mark.timeout(120)
def test_down_removes_what_a_killed_supervisor_and_watchdog_left(
    tmp_path: Path, ssh_hosts: SshHosts, workdir: Path, job_name: str
) -> None:
    port_a, port_b = free_ports(2)
    job = write_job(
        tmp_path,
        job_name,
        [
            remote_agent("one", port_a, ssh_hosts.a, ssh_hosts, workdir, GRANDCHILD=1),
            remote_agent("two", port_b, ssh_hosts.b, ssh_hosts, workdir),
        ],
        {"type": "mesh"},
        ssh={"known_hosts": str(ssh_hosts.known_hosts)},
    )
    with supervisor(job) as run:
        run.wait_for("job.ready", timeout=60)
        pids = [int(started(run, a)["pid"]) for a in ("one", "two")]
        pids += grandchildren(run, "one")
        watchdogs = [parent_of(pid) for pid in pids[:2]]
        # The worst case: the supervisor and the remote watchdogs die at once, so nothing
        # on the hosts ends the agents by itself.
        os.killpg(run.process.pid, signal.SIGSTOP)
        for watchdog in watchdogs:
            os.kill(watchdog, signal.SIGKILL)
        os.killpg(run.process.pid, signal.SIGKILL)
        run.process.wait(timeout=10)
        time.sleep(1.0)
        assert all(pid_alive(p) for p in pids), "the agents should have been left behind"
        assert sorted(p.stem for p in records(job_name)) == ["one", "two"]

        down = subprocess.run(
            agentsup_command("down", str(job), "--log-format", "json"),
            capture_output=True, text=True, timeout=60,
        )
        assert down.returncode == 0, down.stdout + down.stderr
        events = [json.loads(line) for line in down.stdout.splitlines()]
        cleaned = [e["removed"] for e in events if e["event"] == "job.cleaned"]
        assert len(cleaned) == 2, events
        assert any("'one'" in text and "killed" in text for text in cleaned)
        assert any("'two'" in text and "killed" in text for text in cleaned)
        assert wait_gone(pids, 5.0) == []
        assert records(job_name) == []

        again = subprocess.run(
            agentsup_command("down", str(job), "--log-format", "json"),
            capture_output=True, text=True, timeout=60,
        )
        assert again.returncode == 0
        assert not [line for line in again.stdout.splitlines() if "job.cleaned" in line]


# ---------------------------------------------------------------------- host keys


@pytest.mark.timeout(60)
@pytest.mark.parametrize("case", ["unknown", "changed"])
@pytest.mark.parametrize("by_alias", [False, True], ids=["address", "alias"])
def test_unverified_host_key_is_refused_with_a_clear_message(
    tmp_path: Path, ssh_hosts: SshHosts, workdir: Path, job_name: str, case: str,
    by_alias: bool,
) -> None:
    """By address and port, or by an ~/.ssh/config alias whose HostName and Port say
    them: the message names the address the connection went to either way."""
    known_hosts = tmp_path / "known_hosts"
    lines = [ssh_hosts.b.known_hosts_line]
    if case == "changed":
        other = keygen(tmp_path / "impostor", "impostor").split()
        lines.append(f"[{ssh_hosts.a.address}]:{ssh_hosts.a.port} {other[0]} {other[1]}")
    known_hosts.write_text("\n".join(lines) + "\n")
    (port,) = free_ports(1)
    agent = remote_agent("one", port, ssh_hosts.a, ssh_hosts, workdir)
    env = None
    if by_alias:
        agent["deployment"]["host"] = "host-a"
        del agent["deployment"]["port"]
        env = {**os.environ, "HOME": str(ssh_hosts.home)}
    job = write_job(
        tmp_path, job_name, [agent], {"type": "mesh"}, ssh={"known_hosts": str(known_hosts)},
    )
    with supervisor(job, env=env) as run:
        assert run.wait(timeout=40) == 1
        reason = run.wait_for("job.failed")["reason"]
        assert not run.named("agent.started")
        address = f"[{ssh_hosts.a.address}]:{ssh_hosts.a.port}"
        assert address in reason
        keyscan = f"ssh-keyscan -p {ssh_hosts.a.port} {ssh_hosts.a.address} >> {known_hosts}"
        assert keyscan in reason
        if case == "unknown":
            assert "is unknown" in reason
        else:
            assert "does not match" in reason and "ssh-keygen -R" in reason
        assert "nothing was started" in reason


@pytest.mark.timeout(60)
def test_known_hosts_ignore_connects_with_a_warning_event(
    tmp_path: Path, ssh_hosts: SshHosts, workdir: Path, job_name: str
) -> None:
    (port,) = free_ports(1)
    job = write_job(
        tmp_path, job_name, [remote_agent("one", port, ssh_hosts.a, ssh_hosts, workdir)],
        {"type": "mesh"}, ssh={"known_hosts": "ignore"},
    )
    with supervisor(job) as run:
        run.wait_for("job.ready", timeout=40)
        warning = run.wait_for("ssh.host_key_unverified")
        assert warning["level"] == "warning"
        assert warning["host"] == f"root@{ssh_hosts.a.address}:{ssh_hosts.a.port}"
        run.signal(signal.SIGTERM)
        assert run.wait(timeout=30) == 0


# ---------------------------------------------------------------------- preflight


@pytest.mark.timeout(60)
@pytest.mark.parametrize("case", ["wrong key", "missing python", "not python",
                                  "missing module"])
def test_preflight_problems_are_reported_clearly(
    tmp_path: Path, ssh_hosts: SshHosts, workdir: Path, job_name: str, case: str
) -> None:
    good, other = free_ports(2)
    agent = remote_agent("one", good, ssh_hosts.a, ssh_hosts, workdir)
    secret = "pa55-" + uuid.uuid4().hex
    if case == "wrong key":
        keygen(tmp_path / "stranger", "stranger")
        agent["deployment"]["ssh_key"] = str(tmp_path / "stranger")
        agent["deployment"]["password"] = secret
        expected = [f"SSH login to root@{ssh_hosts.a.address}:{ssh_hosts.a.port}",
                    "permission denied"]
    elif case == "missing python":
        agent["deployment"]["python"] = "/nowhere/bin/python3"
        expected = ["agent 'one' on root@127.0.0.2", "'/nowhere/bin/python3' was not found"]
    elif case == "not python":
        agent["deployment"]["python"] = "/bin/true"  # exits 0 whatever it is given
        expected = ["agent 'one' on root@127.0.0.2",
                    "'/bin/true' ran the check without running it as Python"]
    else:
        agent["module"] = "agentsup_no_such_module"
        expected = ["agent 'one' on root@127.0.0.2",
                    "module 'agentsup_no_such_module' cannot be found"]
    job = write_job(
        tmp_path, job_name,
        [agent, remote_agent("two", other, ssh_hosts.b, ssh_hosts, workdir)],
        {"type": "mesh"}, ssh={"known_hosts": str(ssh_hosts.known_hosts)},
    )
    with supervisor(job) as run:
        assert run.wait(timeout=40) == 1
        reason = run.wait_for("job.failed")["reason"]
        for text in expected:
            assert text in reason
        assert "nothing was started" in reason
        assert not run.named("agent.started")
        everything = "".join(run.raw_lines) + run.stderr_text()
        assert secret not in everything


# ---------------------------------------------------------------------- lost hosts


@pytest.mark.timeout(120)
def test_losing_a_host_gives_reconnect_attempts_then_a_failure_under_the_policy(
    tmp_path: Path, ssh_hosts: SshHosts, workdir: Path, job_name: str
) -> None:
    port_a, port_b = free_ports(2)
    job = write_job(
        tmp_path,
        job_name,
        [
            remote_agent("one", port_a, ssh_hosts.a, ssh_hosts, workdir),
            remote_agent("two", port_b, ssh_hosts.b, ssh_hosts, workdir, GRANDCHILD=1),
        ],
        {"type": "mesh"},
        ssh={"known_hosts": str(ssh_hosts.known_hosts), "timeout": 2},
        restart={"policy": "on-failure", "max_restarts": 3, "window": 60,
                 "backoff": {"initial": 0.2, "factor": 2, "max": 1}},
    )
    with supervisor(job) as run:
        run.wait_for("job.ready", timeout=60)
        pids = {a: int(started(run, a)["pid"]) for a in ("one", "two")}
        two_group = [pids["two"], *grandchildren(run, "two")]
        ssh_hosts.b.kill_all()

        exited = run.wait_for("agent.exited", where=lambda e: e.get("agent") == "two")
        assert "exit_code" not in exited
        assert exited["reason"].startswith(f"connection to root@127.0.0.3:{ssh_hosts.b.port} lost")
        lost = run.wait_for("ssh.connection_lost")
        assert lost["host"] == f"root@127.0.0.3:{ssh_hosts.b.port}"
        # The watchdog on host b ends the agent when its session is gone.
        assert wait_gone(two_group, 8.0) == []
        restarting = run.wait_for("agent.restarting", where=lambda e: e.get("agent") == "two")
        assert restarting["attempt"] == 1
        assert run.wait(timeout=60) == 1
        reconnecting = [e for e in run.named("ssh.reconnecting")
                        if e["host"] == f"root@127.0.0.3:{ssh_hosts.b.port}"]
        assert len(reconnecting) >= 2
        assert all("could not connect" in e["error"] for e in reconnecting)
        delays = [e["delay"] for e in reconnecting]
        assert delays[1] > delays[0]  # each start backs off between its attempts
        # A restart that cannot reconnect is one more failure under the policy.
        attempts = [e["attempt"] for e in run.named("agent.restarting")
                    if e.get("agent") == "two"]
        assert attempts == [1, 2, 3]
        failed = run.wait_for("agent.failed", where=lambda e: e.get("agent") == "two")
        assert "restarted 3 times" in failed["reason"]
        assert "could not connect to root@127.0.0.3" in failed["reason"]
        assert "two" in run.wait_for("job.failed")["reason"]
        assert run.events[-1]["event"] == "job.stopped"
        assert wait_gone(list(pids.values()), 5.0) == []


@pytest.mark.timeout(120)
def test_after_a_dropped_connection_the_agent_restarts_on_a_new_one(
    tmp_path: Path, ssh_hosts: SshHosts, workdir: Path, job_name: str
) -> None:
    (port,) = free_ports(1)
    job = write_job(
        tmp_path,
        job_name,
        [remote_agent("one", port, ssh_hosts.a, ssh_hosts, workdir, GRANDCHILD=1)],
        {"type": "mesh"},
        ssh={"known_hosts": str(ssh_hosts.known_hosts), "timeout": 5},
        restart={"policy": "on-failure", "max_restarts": 3, "window": 60,
                 "backoff": {"initial": 0.5, "factor": 2, "max": 2}},
    )
    with supervisor(job) as run:
        run.wait_for("job.ready", timeout=60)
        first = [int(started(run, "one")["pid"]), *grandchildren(run, "one")]
        ssh_hosts.a.kill_all()
        ssh_hosts.a.start()  # the host comes back on the same port
        mark = len(run.events)
        exited = run.wait_for("agent.exited", where=lambda e: e.get("agent") == "one")
        assert "connection to root@127.0.0.2" in exited["reason"]
        second = run.wait_for("agent.started", timeout=40, after=mark)
        run.wait_for("agent.ready", timeout=40, after=mark)
        assert int(second["pid"]) not in first
        assert wait_gone(first, 5.0) == []
        assert pid_alive(int(second["pid"]))
        run.signal(signal.SIGTERM)
        assert run.wait(timeout=30) == 0
        assert wait_gone([int(second["pid"])], 5.0) == []
        assert records(job_name) == []
