"""Exec probes run where the agent runs: over its SSH connection, and in its container."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from clirun import free_ports, supervisor
from dockerenv import docker_client, docker_image, job_name
from sshd import SshHosts, ssh_hosts
from test_docker import IMAGE_TIMEOUT, container_agent
from test_docker import write_job as write_container_job
from test_ssh import remote_agent, workdir
from test_ssh import write_job as write_remote_job

__all__ = ["docker_client", "docker_image", "job_name", "ssh_hosts", "workdir"]

pytestmark = [pytest.mark.integration]


@pytest.mark.timeout(90)
def test_an_exec_probe_of_a_remote_agent_runs_on_its_host(
    tmp_path: Path, ssh_hosts: SshHosts, workdir: Path,
) -> None:
    (port,) = free_ports(1)
    # SSH_CONNECTION exists only in an SSH session; the working directory and AGENT_ID
    # are the agent's own.
    command = 'echo "$SSH_CONNECTION" > exec-ran; test "$AGENT_ID" = far'
    spec = remote_agent("far", port, ssh_hosts.a, ssh_hosts, workdir)
    spec["health_check"] = {"type": "exec", "command": ["sh", "-c", command]}
    job = write_remote_job(tmp_path, "probe-exec-ssh", [spec], {"type": "dynamic"},
                           ssh={"known_hosts": str(ssh_hosts.known_hosts)})
    with supervisor(job) as run:
        run.wait_for("agent.ready", timeout=60)
        run.signal(signal.SIGTERM)
        assert run.wait() == 0
    assert ssh_hosts.a.address in (workdir / "exec-ran").read_text()


@pytest.mark.timeout(IMAGE_TIMEOUT)
def test_an_exec_probe_of_a_container_agent_runs_in_its_container(
    tmp_path: Path, docker_image: str, job_name: str,
) -> None:
    port, other_port = free_ports(2)
    spec = container_agent("box", port, docker_image)
    # /.dockerenv exists only inside a container; AGENT_ID is the agent's environment.
    spec["health_check"] = {"type": "exec",
                            "command": 'sh -c \'test -f /.dockerenv && test "$AGENT_ID" = box\''}
    failing = container_agent("other", other_port, docker_image)
    failing["health_check"] = {"type": "exec", "command": "test -f /no-such-file"}
    job = write_container_job(tmp_path, job_name, [spec], {"type": "dynamic"})
    with supervisor(job) as run:
        run.wait_for("agent.ready", timeout=120)
        run.signal(signal.SIGTERM)
        assert run.wait(timeout=60) == 0
    job = write_container_job(tmp_path, job_name, [failing], {"type": "dynamic"}, timeout=3)
    with supervisor(job) as run:
        failed = run.wait_for("job.failed", timeout=120)
        assert run.wait(timeout=60) == 1
    assert "test exited with 1" in failed["reason"], failed["reason"]
