"""`deployment.stop_signal` on remote agents (a real sshd) and container agents (the real
Docker Engine): the agent itself says which signal asked it to stop."""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from clirun import free_ports, supervisor
from dockerenv import docker_client, docker_image, job_name
from sshd import SshHosts, ssh_hosts

__all__ = ["docker_client", "docker_image", "job_name", "ssh_hosts"]  # fixtures

pytestmark = pytest.mark.integration

SIGNAL_AGENT = Path(__file__).parent / "agents" / "signalagent.py"


def write(tmp_path: Path, name: str, agent: dict[str, Any], **deployment: Any) -> Path:
    document = {
        "job": {"name": name},
        "deployment": {"timeout": 60, "stop_timeout": 5,
                       "health_check": {"interval": 1, "retries": 2, "timeout": 2},
                       **deployment},
        "agents": [agent],
        "topology": {"type": "dynamic"},
    }
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def stopped_by(job: Path) -> str:
    with supervisor(job) as run:
        run.wait_for("job.ready", timeout=120)
        run.signal(signal.SIGTERM)
        assert run.wait(timeout=60) == 0, run.stderr_text()
    said = [e["payload"]["name"] for e in run.named("agent.output")
            if (e.get("payload") or {}).get("kind") == "signal"]
    assert len(said) == 1, run.events
    return str(said[0])


@pytest.mark.timeout(90)
def test_a_remote_agent_gets_its_stop_signal(tmp_path: Path, ssh_hosts: SshHosts) -> None:
    (port,) = free_ports(1)
    server = ssh_hosts.a
    agent = {
        "id": "remote",
        "command": [sys.executable, str(SIGNAL_AGENT)],
        "config": {"port": port},
        "deployment": {
            "target": "remote", "host": server.address, "port": server.port, "user": "root",
            "ssh_key": str(ssh_hosts.user_key), "python": sys.executable,
            "stop_signal": "SIGINT",
            "environment": {"BIND_ADDRESS": server.address},
        },
    }
    job = write(tmp_path, "sig-remote", agent,
                ssh={"timeout": 5, "known_hosts": str(ssh_hosts.known_hosts)})
    assert stopped_by(job) == "SIGINT"


@pytest.mark.timeout(480)
def test_a_container_agent_gets_its_stop_signal(
    tmp_path: Path, docker_client: Any, docker_image: str, job_name: str
) -> None:
    (port,) = free_ports(1)
    agent = {
        "id": "boxed",
        "command": ["python3", "-c", SIGNAL_AGENT.read_text()],
        "config": {"port": port},
        "deployment": {"target": "container", "image": docker_image,
                       "environment": {"BIND_ADDRESS": "0.0.0.0"}},
    }
    job = write(tmp_path, job_name, agent, stop_signal="SIGUSR1")
    assert stopped_by(job) == "SIGUSR1"
