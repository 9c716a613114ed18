"""A real two-node Docker Swarm on this machine, for the swarm tests.

`swarm` runs `scripts/test-swarm up` once per session: the local Engine becomes the
manager (10.210.0.1) and a second dockerd in the network namespace `agentsup-worker`
the worker (10.210.0.2), with the test image copied to it. It needs root, `ip`,
`nsenter` and `dockerd`; when any of that is missing the tests skip with the script's
own words (CI turns skips into failures). At the end of the session the swarm is torn
down with `scripts/test-swarm down`.

`swarm_job` gives each test its own job name and removes whatever carries that job's
label afterwards (services first, then networks), whatever the test did.

A swarm that was up before the session (both nodes ready, others may be using it) is
left up: only a swarm the session built is torn down.
"""

from __future__ import annotations

import contextlib
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import docker.errors
import pytest
from dockerenv import LABEL_JOB

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "test-swarm"
MANAGER_ADDRESS = "10.210.0.1"
WORKER_ADDRESS = "10.210.0.2"


@dataclass(frozen=True)
class Swarm:
    manager: Any
    """A Docker client of the manager (the local Engine)."""
    worker: Any
    """A Docker client of the worker's own Engine."""
    worker_host: str
    """The worker's DOCKER_HOST."""


def _script(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True,
                          timeout=timeout, check=False)


def _already_up() -> bool:
    """Whether both nodes of the test swarm answer and are in the swarm already."""
    try:
        worker = _script("env").stdout.strip()
        states = [
            subprocess.run(["docker", *host, "info", "--format", "{{.Swarm.LocalNodeState}}"],
                           capture_output=True, text=True, timeout=30,
                           check=False).stdout.strip()
            for host in ([], ["-H", worker])
        ]
    except (OSError, subprocess.TimeoutExpired):
        return False
    return states == ["active", "active"]


@pytest.fixture(scope="session")
def swarm(docker_image: str) -> Iterator[Swarm]:
    found_up = _already_up()
    try:
        result = _script("up")
    except (OSError, subprocess.TimeoutExpired) as exc:
        pytest.skip(f"cannot set up the test swarm with {SCRIPT.name}: {exc}")
    if result.returncode != 0:
        tail = "\n".join(result.stderr.strip().splitlines()[-5:])
        if not found_up:
            _script("down", timeout=120)
        pytest.skip(f"cannot set up the test swarm with {SCRIPT.name}: {tail}")
    worker_host = _script("env").stdout.strip()
    manager = docker.from_env(timeout=60)
    worker = docker.DockerClient(base_url=worker_host, timeout=60)
    try:
        yield Swarm(manager, worker, worker_host)
    finally:
        manager.close()
        worker.close()
        if not found_up:
            _script("down", timeout=120)


def labelled(client: Any, job: str) -> tuple[list[Any], list[Any]]:
    """The services and networks that carry `job`'s label, as the manager sees them."""
    wanted = {"label": f"{LABEL_JOB}={job}"}
    return client.services.list(filters=wanted), client.networks.list(filters=wanted)


def remove_job(client: Any, job: str) -> None:
    services, networks = labelled(client, job)
    for service in services:
        with contextlib.suppress(docker.errors.NotFound):
            service.remove()
    for network in networks:
        for _ in range(40):  # the tasks of removed services let go of it in a moment
            try:
                network.remove()
                break
            except docker.errors.NotFound:
                break
            except docker.errors.APIError:
                time.sleep(0.5)


@pytest.fixture
def swarm_job(request: pytest.FixtureRequest, swarm: Swarm) -> Iterator[str]:
    short = request.node.name.removeprefix("test_").replace("_", "-")[:20].strip("-")
    name = f"sw-{short}-{uuid.uuid4().hex[:6]}"
    yield name
    remove_job(swarm.manager, name)
