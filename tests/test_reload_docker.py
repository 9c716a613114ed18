"""`agentsup reload` of container agents, against the real Docker Engine and the real CLI.

A reload launches a container the way a start does: its image checked, its network
created, and its port published on the host port the new plan gives it. The agents
are `tests/agents/peeragent.py` (see test_docker.py), asked `/whoami` on their host
ports from this machine.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from clirun import agentsup_command, free_ports, supervisor
from dockerenv import docker_client, docker_image, job_name, labelled
from sshd import SshHosts, free_port_on, ssh_hosts
from test_docker import IMAGE_TIMEOUT, PEER_AGENT, container_agent, get_json, write_job

__all__ = ["docker_client", "docker_image", "job_name", "ssh_hosts"]  # fixtures used by name below

pytestmark = [pytest.mark.integration]


def ctl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(agentsup_command(*args), capture_output=True, text=True,
                          timeout=180, env=dict(os.environ))


def answers(port: int) -> Any:
    try:
        return get_json(f"http://127.0.0.1:{port}/whoami")
    except OSError:
        return None


@pytest.mark.timeout(IMAGE_TIMEOUT)
def test_reload_adds_and_changes_containers_on_their_new_host_ports(
    tmp_path: Path, docker_client: Any, docker_image: str, job_name: str
) -> None:
    port, moved, busy_port = free_ports(3)
    before = [container_agent("a", port, docker_image)]
    job = write_job(tmp_path, job_name, before, {"type": "dynamic"})
    extra = f"{job_name}-extra"
    with supervisor(job) as run:
        run.wait_for("job.ready", timeout=120)
        assert answers(port) == {"id": "a"}
        (first,) = labelled(docker_client, job_name)[0]

        # A host port someone else holds: refused before anything changes.
        with socket.socket() as busy:
            busy.bind(("127.0.0.1", busy_port))
            busy.listen()
            write_job(tmp_path, job_name,
                      [*before, container_agent("b", port, docker_image, host_port=busy_port)],
                      {"type": "dynamic"})
            mark = len(run.events)
            refused = ctl("reload", str(job))
        assert refused.returncode == 1, refused.stderr
        assert refused.stderr.startswith("agentsup: ")
        assert f"host port {busy_port} of agent 'b' is already in use" in refused.stderr
        assert "nothing was changed" in refused.stderr
        assert run.named("job.reloading") == []
        assert [c.id for c in labelled(docker_client, job_name)[0]] == [first.id]

        # Move a to a pinned host port, which restarts it, and add b on a network of
        # its own, published on the host port a leaves: a stops before b starts.
        write_job(tmp_path, job_name,
                  [container_agent("a", port, docker_image, host_port=moved),
                   container_agent("b", port, docker_image, network=extra)],
                  {"type": "dynamic"})
        mark = len(run.events)
        result = ctl("reload", str(job))
        assert result.returncode == 0, result.stderr + "\n".join(
            json.dumps(e) for e in run.events[mark:])
        assert result.stdout.splitlines() == ["added: b", "removed: -", "restarted: a"]
        reloaded = run.wait_for("job.reloaded", after=mark)
        assert (reloaded["added"], reloaded["restarted"]) == (["b"], ["a"])
        assert reloaded["level"] == "info"
        created = [e["network"] for e in run.events[mark:] if e.get("event") == "network.created"]
        assert created == [extra]
        urls = {e["agent"]: e["url"] for e in run.events[mark:] if e.get("event") == "agent.ready"}
        assert urls == {"a": f"http://127.0.0.1:{moved}", "b": f"http://127.0.0.1:{port}"}
        assert answers(moved) == {"id": "a"}
        assert answers(port) == {"id": "b"}

        containers, networks = labelled(docker_client, job_name)
        assert sorted(c.name for c in containers) == [
            f"agentsup-{job_name}-a", f"agentsup-{job_name}-b"]
        assert first.id not in {c.id for c in containers}
        assert sorted(n.name for n in networks) == sorted([f"agentsup-{job_name}", extra])

        # `down` under the running supervisor touches nothing.
        down = ctl("down", str(job))
        assert down.returncode == 1
        assert down.stdout == ""
        assert f"job {job_name!r} is running" in down.stderr
        assert f"`agentsup stop {job_name}`" in down.stderr
        assert sorted(c.id for c in labelled(docker_client, job_name)[0]) == sorted(
            c.id for c in containers)

        stopped = ctl("stop", job_name)
        assert stopped.returncode == 0, stopped.stderr
        assert run.wait(timeout=60) == 0
    assert labelled(docker_client, job_name) == ([], [])
    assert answers(moved) is None and answers(port) is None


@pytest.mark.timeout(IMAGE_TIMEOUT)
def test_a_remote_caller_added_by_reload_gets_the_container_published_for_it(
    tmp_path: Path, docker_client: Any, docker_image: str, job_name: str, ssh_hosts: SshHosts
) -> None:
    # The remote agent runs over real SSH on 127.0.0.2 and is told to reach this machine
    # as 127.0.0.4 (`advertise_host`): a port published on 127.0.0.1 does not answer
    # there, one published on every address does, as it would on another machine.
    host = ssh_hosts.a
    box_port, far_port = free_ports(1)[0], free_port_on(host.address)
    box = container_agent("box", box_port, docker_image)
    far = {
        "id": "far",
        "command": [sys.executable, str(PEER_AGENT)],
        "config": {"port": far_port},
        "deployment": {
            "target": "remote", "host": host.address, "port": host.port, "user": "root",
            "ssh_key": str(ssh_hosts.user_key),
            "environment": {"BIND_ADDRESS": host.address},
        },
    }
    deployment: dict[str, Any] = {"ssh": {"known_hosts": str(ssh_hosts.known_hosts)},
                                  "network": {"advertise_host": "127.0.0.4"}}
    job = write_job(tmp_path, job_name, [box, far], {"type": "dynamic"}, **deployment)

    def binding() -> Any:
        (container,) = docker_client.containers.list(
            filters={"label": f"agentsup.job={job_name}", "status": "running"})
        return container.attrs["HostConfig"]["PortBindings"][f"{box_port}/tcp"][0]["HostIp"]

    with supervisor(job) as run:
        run.wait_for("job.ready", timeout=120)
        assert binding() == "127.0.0.1"
        write_job(tmp_path, job_name, [box, far],
                  {"type": "dag", "connections": [{"from": "far", "to": "box"}]},
                  **deployment)
        mark = len(run.events)
        result = ctl("reload", str(job))
        assert result.returncode == 0, result.stderr
        # box's definition is unchanged: where its port is published is what changed.
        assert result.stdout.splitlines() == ["added: -", "removed: -", "restarted: box, far"]
        run.wait_for("job.reloaded", after=mark)
        for agent in ("box", "far"):
            run.wait_for("agent.ready", timeout=120, after=mark,
                         where=lambda e, agent=agent: e["agent"] == agent)
        assert binding() == "0.0.0.0"
        assert get_json(f"http://{host.address}:{far_port}/peers") == {
            "id": "far", "results": {f"http://127.0.0.4:{box_port}": {"id": "box"}},
        }
        run.signal(signal.SIGTERM)
        assert run.wait(timeout=60) == 0, run.stderr_text()
    assert labelled(docker_client, job_name) == ([], [])
