"""An Engine that stops answering while agents run.

The removals agentsup makes from its own threads (the waiter that removes an exited
container, a stop, a close) must turn a failed connection into a `RunnerError` that is
reported, never a traceback of a dying thread.

The real Engine here cannot be stopped (other tests use it), so these tests point a real
Docker client at a socket path where no daemon listens: the SDK and its transport fail
exactly as they do once dockerd is gone (a real connection failure, no mock).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from agentsup.runners._docker_engine import network_exists, remove_container, remove_network
from agentsup.runners._docker_runner import ContainerSettings, DockerRunner, _Launch
from agentsup.runners._swarm_engine import remove_service
from agentsup.runners.base import ExitStatus, RunnerError


@pytest.fixture
def dead_engine(tmp_path: Path) -> Iterator[Any]:
    """A client of an Engine that is not there (an explicit API version: no ping)."""
    api = docker.APIClient(base_url=f"unix://{tmp_path}/docker.sock", version="1.41",
                           timeout=5)
    yield api
    api.close()


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        (remove_container, "cannot remove container agentsup-x-a: "),
        (remove_network, "cannot remove network agentsup-x-a: "),
        (remove_service, "cannot remove service agentsup-x-a: "),
        (network_exists, "cannot inspect network agentsup-x-a: "),
    ],
)
def test_a_request_to_an_engine_that_is_gone_is_a_runner_error(
    dead_engine: Any, call: Callable[[Any, str], bool], expected: str
) -> None:
    with pytest.raises(RunnerError) as raised:
        call(dead_engine, "agentsup-x-a")
    assert str(raised.value).startswith(expected + "cannot reach the Docker Engine: ")


def test_the_waiter_reports_a_lost_engine_and_dies_with_no_traceback(
    dead_engine: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    uncaught: list[BaseException | None] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: uncaught.append(args.exc_value))
    settings = ContainerSettings(
        job="x", agent_id="a", name="agentsup-x-a", image="none", network="agentsup-x",
        port=1, host_port=1, labels={},
    )
    runner = DockerRunner(dead_engine, settings)
    reader = threading.Thread(target=lambda: None)
    reader.start()
    launch = _Launch(id="0" * 64, name=settings.name, stream=None, threads=[reader])
    exits: list[ExitStatus] = []
    waiter = threading.Thread(target=runner._wait, args=(launch, exits.append),
                              name="docker-wait-a")
    waiter.start()
    waiter.join()
    assert uncaught == []
    (status,) = exits
    assert status.exit_code is None
    assert (status.reason or "").startswith("lost the Docker Engine while waiting: ")
    assert launch.exited.is_set()
