"""Container agents at the edges, against the real Docker Engine, through the real CLI.

An agent killed at its memory limit, a restart whose image has gone, one very long line
of multi-byte text, and the order of the last events.
"""

from __future__ import annotations

import signal
import uuid
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path
from typing import Any

import docker.errors
import pytest
import test_docker as base
from clirun import free_ports, supervisor
from dockerenv import docker_client, docker_image, job_name, labelled

__all__ = ["docker_client", "docker_image", "job_name"]  # fixtures used by name below

pytestmark = [pytest.mark.integration, pytest.mark.timeout(base.IMAGE_TIMEOUT)]

ALLOCATE = "x = bytearray(512 * 1024 * 1024)\nprint('allocated', flush=True)\n"
LONG_LINE = (
    "import sys, time\n"
    "sys.stdout.write('é' * 300000 + '\\n' + 'after the long line\\n')\n"
    "sys.stdout.flush()\n"
    "time.sleep(600)\n"
)


def command_agent(agent_id: str, port: int, image: str, source: str,
                  **extra: Any) -> dict[str, Any]:
    return {
        "id": agent_id,
        "command": ["python3", "-c", source],
        "config": {"port": port},
        "deployment": {"target": "container", "image": image},
        **extra,
    }


def memory_limit_works(client: Any, image: str) -> str | None:
    """None if `docker run --memory` is enforced here; else why the OOM test cannot run."""
    container = client.containers.create(
        image, ["python3", "-c", ALLOCATE], mem_limit="32m", memswap_limit="32m"
    )
    try:
        container.start()
        container.wait(timeout=60)
        container.reload()
        if not container.attrs["State"].get("OOMKilled"):
            return "this Engine/kernel does not enforce --memory (no OOM kill at 32 MiB)"
        return None
    finally:
        with suppress(docker.errors.NotFound):
            container.remove(force=True)


def test_an_agent_killed_at_its_memory_limit_exits_with_reason_out_of_memory(
    tmp_path: Path, docker_client: Any, docker_image: str, job_name: str
) -> None:
    problem = memory_limit_works(docker_client, docker_image)
    if problem is not None:
        pytest.skip(problem)
    (port,) = free_ports(1)
    job = base.write_job(
        tmp_path, job_name,
        [command_agent("hungry", port, docker_image, ALLOCATE,
                       resources={"memory": "32Mi"})],
        {"type": "mesh"},
    )
    with supervisor(job) as run:
        exited = run.wait_for("agent.exited", timeout=90)
        assert exited["agent"] == "hungry"
        assert exited["exit_code"] == 137
        assert exited["reason"] == "out of memory"
        failed = run.wait_for("agent.failed")
        assert "out of memory" in failed["reason"]
        assert run.wait(timeout=60) == 1


@pytest.fixture
def doomed_image(docker_client: Any, docker_image: str) -> Iterator[str]:
    """A tag of the test image of this test's own, which the test removes."""
    name = f"agentsup-test-doomed:{uuid.uuid4().hex[:8]}"
    docker_client.images.get(docker_image).tag(name)
    yield name
    with suppress(docker.errors.ImageNotFound, docker.errors.APIError):
        docker_client.images.remove(name)


def test_each_failed_restart_attempt_says_why(
    tmp_path: Path, docker_client: Any, doomed_image: str, job_name: str
) -> None:
    (port,) = free_ports(1)
    agent = base.container_agent("fragile", port, doomed_image)
    agent["restart"] = {"policy": "on-failure", "max_restarts": 3, "window": 60,
                        "backoff": {"initial": 0.2, "factor": 2, "max": 1}}
    job = base.write_job(tmp_path, job_name, [agent], {"type": "mesh"})
    with supervisor(job) as run:
        run.wait_for("job.ready", timeout=90)
        docker_client.images.remove(doomed_image)  # untags it; the container keeps running
        (container,), _ = labelled(docker_client, job_name)
        container.kill()
        assert run.wait(timeout=90) == 1
        exited = run.wait_for("agent.exited")
        assert exited["exit_code"] == 137
        failures = run.named("agent.restart_failed")
        assert [e["agent"] for e in failures] == ["fragile"] * 3
        for event in failures:
            assert event["level"] == "warning"
            assert doomed_image.split(":")[0] in event["reason"], event
        attempts = [e["attempt"] for e in run.named("agent.restarting")]
        assert attempts == [1, 2, 3]
        # Each failure comes right after its attempt, before the next one.
        order = [e["event"] for e in run.events
                 if e["event"] in ("agent.restarting", "agent.restart_failed")]
        assert order == ["agent.restarting", "agent.restart_failed"] * 3
        assert "restarted 3 times" in run.wait_for("agent.failed")["reason"]


def test_a_long_line_of_multibyte_text_from_a_container_arrives_in_numbered_pieces(
    tmp_path: Path, docker_image: str, job_name: str
) -> None:
    (port,) = free_ports(1)
    job = base.write_job(
        tmp_path, job_name, [command_agent("talker", port, docker_image, LONG_LINE)],
        {"type": "mesh"},
    )
    with supervisor(job) as run:
        run.wait_for("agent.output", timeout=90,
                     where=lambda e: e.get("line") == "after the long line")
        pieces = [e for e in run.named("agent.output") if "part" in e]
        assert len(pieces) > 1
        assert [e["part"] for e in pieces] == list(range(1, len(pieces) + 1))
        assert [e["continued"] for e in pieces] == [True] * (len(pieces) - 1) + [False]
        assert "".join(str(e["line"]) for e in pieces) == "é" * 300000
        run.signal(signal.SIGTERM)
        run.wait(timeout=60)


def test_job_stopped_is_the_last_event_after_the_network_is_removed(
    tmp_path: Path, docker_image: str, job_name: str
) -> None:
    (port,) = free_ports(1)
    job = base.write_job(
        tmp_path, job_name, [base.container_agent("a", port, docker_image)], {"type": "mesh"},
    )
    with supervisor(job) as run:
        run.wait_for("job.ready", timeout=90)
        run.signal(signal.SIGTERM)
        assert run.wait(timeout=60) == 0
        names = [e["event"] for e in run.events]
        assert "network.removed" in names
        assert names[-1] == "job.stopped"
        assert names.index("network.removed") < names.index("job.stopped")
