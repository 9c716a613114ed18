"""Fixtures for tests against the real Docker Engine.

`docker_image` makes sure the test image exists, building it with `scripts/test-image`
(debootstrap + `docker import`, about a minute, once per machine). Without an Engine, or
when the image cannot be built, the tests skip with the reason; CI turns that into a
failure. `job_name` gives each test its own job name and removes whatever carries that
job's label afterwards, whatever the test did.
"""

from __future__ import annotations

import contextlib
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import docker.errors
import pytest

IMAGE = "agentsup-test-python:bookworm"
SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "test-image"
LABEL_JOB = "agentsup.job"


def _client() -> Any:
    try:
        client = docker.from_env(timeout=60)
        client.ping()
    except Exception as exc:
        pytest.skip(f"no Docker Engine to test against: {exc}")
    return client


@pytest.fixture(scope="session")
def docker_client() -> Iterator[Any]:
    client = _client()
    yield client
    client.close()


@pytest.fixture(scope="session")
def docker_image(docker_client: Any) -> str:
    try:
        result = subprocess.run(
            [str(SCRIPT)], capture_output=True, text=True, timeout=900, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        pytest.skip(f"cannot build the test image with {SCRIPT.name}: {exc}")
    if result.returncode != 0:
        tail = "\n".join(result.stderr.strip().splitlines()[-5:])
        pytest.skip(f"cannot build the test image with {SCRIPT.name}: {tail}")
    try:
        docker_client.images.get(IMAGE)
    except docker.errors.ImageNotFound:
        pytest.skip(f"{SCRIPT.name} ran, but there is no image {IMAGE}")
    return IMAGE


def labelled(client: Any, job: str) -> tuple[list[Any], list[Any]]:
    """The containers (running or not) and networks that carry `job`'s label."""
    wanted = {"label": f"{LABEL_JOB}={job}"}
    return client.containers.list(all=True, filters=wanted), client.networks.list(filters=wanted)


def remove_job(client: Any, job: str) -> None:
    containers, networks = labelled(client, job)
    for container in containers:
        with contextlib.suppress(docker.errors.NotFound):
            container.remove(force=True)
    for network in networks:
        with contextlib.suppress(docker.errors.NotFound):
            network.remove()


@pytest.fixture
def job_name(request: pytest.FixtureRequest, docker_client: Any) -> Iterator[str]:
    short = request.node.name.removeprefix("test_").replace("_", "-")[:20].strip("-")
    name = f"dk-{short}-{uuid.uuid4().hex[:6]}"
    yield name
    remove_job(docker_client, name)
