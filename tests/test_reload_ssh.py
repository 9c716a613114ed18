"""`agentsup reload` of SSH agents, against two real sshd servers on loopback addresses
and the real CLI.

A reload checks a new or changed agent's host as a start does (reachable, the Python
and the module there), connects a host the job did not reach before, and launches there.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from clirun import agentsup_command, free_ports, pid_alive, supervisor, wait_gone
from sshd import SshHosts, ssh_hosts
from test_ssh import job_name, records, remote_agent, started, workdir, write_job

__all__ = ["job_name", "ssh_hosts", "workdir"]  # fixtures used by name below

pytestmark = [pytest.mark.integration]


def ctl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(agentsup_command(*args), capture_output=True, text=True,
                          timeout=60, env=dict(os.environ))


def whoami(address: str, port: int) -> Any:
    with urllib.request.urlopen(f"http://{address}:{port}/whoami", timeout=10) as response:
        return json.loads(response.read())


@pytest.mark.timeout(120)
def test_reload_adds_an_agent_on_a_new_host_and_restarts_a_changed_one(
    tmp_path: Path, ssh_hosts: SshHosts, workdir: Path, job_name: str
) -> None:
    port_one, port_two = free_ports(2)
    a, b = ssh_hosts.a, ssh_hosts.b
    ssh = {"known_hosts": str(ssh_hosts.known_hosts)}
    one = remote_agent("one", port_one, a, ssh_hosts, workdir)
    job = write_job(tmp_path, job_name, [one], {"type": "mesh"}, ssh=ssh)
    with supervisor(job) as run:
        run.wait_for("job.ready", timeout=60)
        first_pid = int(started(run, "one")["pid"])
        assert whoami(a.address, port_one)["pid"] == first_pid

        # On host b, in a directory without the module: refused, nothing changes.
        empty = tmp_path / "empty"
        empty.mkdir()
        two = remote_agent("two", port_two, b, ssh_hosts, empty)
        write_job(tmp_path, job_name, [one, two], {"type": "mesh"}, ssh=ssh)
        refused = ctl("reload", job_name)
        assert refused.returncode == 1, refused.stderr
        assert refused.stderr.startswith(
            f"agentsup: agent 'two' on root@{b.address}:{b.port}: module 'remote_agent' "
            f"cannot be found by {sys.executable} in {empty}")
        assert "nothing was changed" in refused.stderr
        assert run.named("job.reloading") == []
        assert whoami(a.address, port_one)["pid"] == first_pid

        # Add two on host b (which the job has not reached yet); change one's
        # environment, so it restarts.
        two = remote_agent("two", port_two, b, ssh_hosts, workdir)
        one = remote_agent("one", port_one, a, ssh_hosts, workdir, MARK="2")
        write_job(tmp_path, job_name, [one, two], {"type": "mesh"}, ssh=ssh)
        mark = len(run.events)
        try:
            result = ctl("reload", str(job))
        except subprocess.TimeoutExpired:
            raise AssertionError("\n".join(json.dumps(e) for e in run.events[mark:])) from None
        assert result.returncode == 0, (result.stdout, result.stderr, run.events[mark:])
        assert result.stdout.splitlines() == ["added: two", "removed: -", "restarted: one"]
        reloaded = run.wait_for("job.reloaded", after=mark)
        assert (reloaded["added"], reloaded["restarted"]) == (["two"], ["one"])
        assert reloaded["level"] == "info"
        new = {e["agent"]: e for e in run.events[mark:] if e.get("event") == "agent.started"}
        assert new["two"]["host"] == b.address and new["one"]["host"] == a.address
        pids = {agent: int(event["pid"]) for agent, event in new.items()}
        assert pids["one"] != first_pid
        assert wait_gone([first_pid], 5.0) == []
        assert whoami(a.address, port_one) == {"id": "one", "pid": pids["one"]}
        assert whoami(b.address, port_two) == {"id": "two", "pid": pids["two"]}
        assert sorted(p.stem for p in records(job_name)) == ["one", "two"]

        stopped = ctl("stop", job_name)
        assert stopped.returncode == 0, stopped.stderr
        assert run.wait(timeout=30) == 0
    assert wait_gone(list(pids.values()), 5.0) == []
    assert not any(pid_alive(p) for p in pids.values())
    assert records(job_name) == []
