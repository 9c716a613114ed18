"""Talking to the Docker Engine: connecting, naming, labelling, and clearing away.

Everything agentsup creates on an Engine carries three labels, so that it can be found
again without any record kept on this machine: `agentsup.job` (the job's name),
`agentsup.agent` (the agent's id, on containers) and `agentsup.run` (one `agentsup start`).
Leftovers of a job are found by the job label alone.

The Docker SDK is untyped; what it returns is treated as `Any` here and turned into
plain values at once.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import Any

import docker
import docker.errors
import msgspec

from agentsup.job.models import MEMORY_PATTERN, Agent
from agentsup.plan import DOCKER_HOST_FROM_CONTAINER
from agentsup.runners.base import RunnerError

LABEL_JOB = "agentsup.job"
LABEL_AGENT = "agentsup.agent"
LABEL_RUN = "agentsup.run"

DEFAULT_ENGINE = "unix:///var/run/docker.sock"
HOST_GATEWAY = {DOCKER_HOST_FROM_CONTAINER: "host-gateway"}
"""How a container reaches agents on the Docker host: the name the plan gives them there."""
API_TIMEOUT = 60.0
"""Seconds for one ordinary Engine request; waits and output streams have none."""


def engine_address() -> str:
    """The Engine agentsup talks to: `DOCKER_HOST`, else the local socket."""
    return os.environ.get("DOCKER_HOST") or DEFAULT_ENGINE


def engine_is_local() -> bool:
    """True when published ports land on this machine (a local socket)."""
    return engine_address().startswith("unix://")


def _root_cause(exc: BaseException) -> str:
    """The most telling message in an exception chain (an OSError's, when there is one)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        for arg in current.args:
            if isinstance(arg, OSError) and arg.strerror:
                return arg.strerror
            if isinstance(arg, BaseException):
                return _root_cause(arg)
        if isinstance(current, OSError) and current.strerror:
            return current.strerror
        current = current.__cause__ or current.__context__
    text = str(exc)
    return text.removeprefix("Error while fetching server API version: ")


def connect(max_pool_size: int = 10, address: str | None = None) -> Any:
    """A low-level client for the Engine at `address` (default: DOCKER_HOST or the local
    socket), checked with a ping.

    `max_pool_size` should allow two long-lived connections (output and wait) per
    container, plus a few for ordinary requests. The TLS settings of the environment
    apply to the Engine the environment names; an `ssh://` Engine is reached through the
    ssh client.
    """
    default = engine_address()
    address = address or default
    try:
        kwargs: dict[str, Any] = docker.utils.kwargs_from_env() if address == default else {}
        kwargs["base_url"] = address
        if address.startswith("ssh://"):
            kwargs["use_ssh_client"] = True
        api = docker.APIClient(
            version="auto", timeout=API_TIMEOUT, max_pool_size=max_pool_size, **kwargs
        )
        api.ping()
    except (docker.errors.DockerException, OSError) as exc:
        raise RunnerError(
            f"cannot reach the Docker Engine at {address}: {_root_cause(exc)}"
        ) from exc
    return api


def container_name(job: str, agent: Agent) -> str:
    return agent.deployment.container_name or f"agentsup-{job}-{agent.id}"


def labels(job: str, run_id: str, agent_id: str | None = None) -> dict[str, str]:
    marks = {LABEL_JOB: job, LABEL_RUN: run_id}
    if agent_id is not None:
        marks[LABEL_AGENT] = agent_id
    return marks


_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


def memory_bytes(text: str) -> int:
    """`512M`, `1G`, `2Gi`, `1.5GB`, `100` -> bytes. Units are binary, as Docker's are."""
    value = text.strip()
    if not MEMORY_PATTERN.match(value):
        raise ValueError(f"{text!r} is not a size")
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([A-Za-z]*)", value)
    assert match is not None  # MEMORY_PATTERN accepted it
    number, unit = match.groups()
    return int(float(number) * _UNITS[unit[:1].lower()])


def nano_cpus(cpu: float) -> int:
    """CPU cores as Docker's CPU quota in units of 1e-9 CPUs."""
    return max(round(cpu * 1e9), 1)


class Found(msgspec.Struct, frozen=True):
    """A container, service or network that carries a job's label."""

    kind: str  # "container", "service" or "network"
    id: str
    name: str
    agent: str | None
    run: str | None
    host_ports: tuple[int, ...] = ()
    grace: float = 0.0
    """A service's stop grace period in seconds: how long its task may outlive it."""

    def describe(self) -> str:
        owner = f" (agent {self.agent!r})" if self.agent else ""
        return f"{self.kind} {self.name}{owner}"


def _host_ports(attrs: dict[str, Any]) -> tuple[int, ...]:
    ports: list[int] = []
    for bindings in (attrs.get("Ports") or []):
        public = bindings.get("PublicPort")
        if public:
            ports.append(int(public))
    return tuple(ports)


SWARM_TASK_LABEL = "com.docker.swarm.task.id"
"""Swarm's label on the container of a task: such a container is the swarm target's."""


def job_containers(api: Any, job: str, run_id: str | None = None) -> list[Found]:
    """Every container, running or not, labelled with `job` (and `run_id`, if given),
    except the containers of the job's swarm tasks: they carry the same labels (a
    service passes its labels on), and Swarm removes them with their services."""
    wanted = [f"{LABEL_JOB}={job}"]
    if run_id is not None:
        wanted.append(f"{LABEL_RUN}={run_id}")
    found = []
    for attrs in api.containers(all=True, filters={"label": wanted}):
        marks = attrs.get("Labels") or {}
        if SWARM_TASK_LABEL in marks:
            continue
        names = attrs.get("Names") or [attrs["Id"][:12]]
        found.append(
            Found(
                kind="container",
                id=attrs["Id"],
                name=names[0].lstrip("/"),
                agent=marks.get(LABEL_AGENT),
                run=marks.get(LABEL_RUN),
                host_ports=_host_ports(attrs),
            )
        )
    return found


def job_networks(api: Any, job: str, *, overlay: bool = False) -> list[Found]:
    """The job's bridge networks; with `overlay`, its swarm overlay networks instead
    (which the container target must leave to the swarm target in a mixed job)."""
    found = []
    for attrs in api.networks(filters={"label": [f"{LABEL_JOB}={job}"]}):
        if (attrs.get("Driver") == "overlay") != overlay:
            continue
        marks = attrs.get("Labels") or {}
        found.append(
            Found(kind="network", id=attrs["Id"], name=attrs["Name"], agent=None,
                  run=marks.get(LABEL_RUN))
        )
    return found


class EngineUnreachable(RunnerError):
    """An Engine request got no answer at all (as opposed to a refusal)."""


def unreachable(doing: str, exc: BaseException) -> RunnerError:
    """The error for an Engine request that got no answer: the Engine stopped, or its
    socket went. The SDK lets the transport's own exceptions through (requests'
    `ConnectionError`, which is an `OSError`), and a thread that removes an exited
    agent's object must get a `RunnerError` it can report, not a traceback."""
    return EngineUnreachable(f"{doing}: cannot reach the Docker Engine: {_root_cause(exc)}")


def remove_container(api: Any, container: str) -> bool:
    """Force-remove (kill first if running); False when it was already gone."""
    try:
        api.remove_container(container, force=True)
    except docker.errors.NotFound:
        return False
    except docker.errors.APIError as exc:
        if exc.status_code == 409 and "already in progress" in str(exc):
            return False  # someone else is removing it
        raise RunnerError(f"cannot remove container {container}: {exc.explanation}") from exc
    except (docker.errors.DockerException, OSError) as exc:
        raise unreachable(f"cannot remove container {container}", exc) from exc
    return True


def remove_network(api: Any, network: str) -> bool:
    """Remove a network; False when it was already gone."""
    try:
        api.remove_network(network)
    except docker.errors.NotFound:
        return False
    except docker.errors.APIError as exc:
        raise RunnerError(f"cannot remove network {network}: {exc.explanation}") from exc
    except (docker.errors.DockerException, OSError) as exc:
        raise unreachable(f"cannot remove network {network}", exc) from exc
    return True


def clear_job(api: Any, job: str) -> Iterator[Found]:
    """Remove every container and then every network labelled with `job`; yields each
    one as it goes. A network still used by a container of someone else's is kept and
    raises `RunnerError` after the rest is done."""
    for found in job_containers(api, job):
        if remove_container(api, found.id):
            yield found
    failures = []
    for found in job_networks(api, job):
        try:
            if remove_network(api, found.id):
                yield found
        except RunnerError as exc:
            failures.append(str(exc))
    if failures:
        raise RunnerError("; ".join(failures))


def image_present(api: Any, image: str) -> bool:
    try:
        api.inspect_image(image)
    except docker.errors.ImageNotFound:
        return False
    except docker.errors.NotFound:
        return False
    return True


def pull_image(api: Any, image: str) -> None:
    repository, _, tag = image.rpartition(":")
    if not repository or "/" in tag:  # no tag, or the colon belongs to a registry port
        repository, tag = image, "latest"
    try:
        api.pull(repository, tag=tag)
    except docker.errors.APIError as exc:
        raise RunnerError(f"cannot pull image {image!r}: {exc.explanation or exc}") from exc
    if not image_present(api, image):
        raise RunnerError(f"pulled image {image!r}, but the Engine does not have it")


def inspect_container(api: Any, name: str) -> dict[str, Any] | None:
    try:
        attrs: dict[str, Any] = api.inspect_container(name)
    except docker.errors.NotFound:
        return None
    return attrs


def network_exists(api: Any, name: str) -> bool:
    try:
        api.inspect_network(name)
    except docker.errors.NotFound:
        return False
    except OSError as exc:
        raise unreachable(f"cannot inspect network {name}", exc) from exc
    return True
