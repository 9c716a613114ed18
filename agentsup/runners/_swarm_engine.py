"""Talking to a swarm manager: connecting, describing services, reading tasks, clearing.

Shares the container target's labels and size conversions (`_docker_engine`): a
service, its containers and the job's overlay network carry `agentsup.job`,
`agentsup.agent` and `agentsup.run`, so `agentsup down` finds them by label alone.

The Docker SDK is untyped; what it returns is treated as `Any` here and turned into
plain values at once. `task_outcome` is pure so that its reading of Swarm's task states
can be tested without a swarm.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Iterator, Mapping
from typing import Any

import docker
import docker.errors
import docker.types
import msgspec

from agentsup.job.docker_names import overlay_name, service_name
from agentsup.job.models import Agent, SwarmSettings
from agentsup.job.placement import spread_of
from agentsup.runners._docker_engine import (
    LABEL_AGENT,
    LABEL_JOB,
    LABEL_RUN,
    EngineUnreachable,
    Found,
    engine_address,
    job_networks,
    memory_bytes,
    nano_cpus,
    network_exists,
    remove_network,
    unreachable,
)
from agentsup.runners._docker_engine import (
    connect as engine_connect,
)
from agentsup.runners.base import LaunchSpec, RunnerError

WAITING_STATES = frozenset({"new", "allocated", "pending", "assigned", "accepted",
                            "preparing", "ready", "starting"})
"""Task states on the way to `running`."""
NETWORK_RELEASE_TIMEOUT = 30.0
"""Seconds, beyond the longest stop grace period of the services removed with it, that
an overlay network may take to be gone after its removal was asked for."""
DEFAULT_GRACE = 10.0
"""Swarm's stop grace period for a service that names none."""
NETWORK_POLL_INTERVAL = 0.25


def swarm_engine(swarm: SwarmSettings) -> str:
    """The manager agentsup talks to: `deployment.swarm.engine`, else as for containers."""
    return swarm.engine or engine_address()


def connect(address: str, max_pool_size: int = 10) -> Any:
    """A low-level client for the manager at `address`, checked with a ping."""
    return engine_connect(max_pool_size, address)


def manager_problem(api: Any, address: str) -> str | None:
    """Why the Engine at `address` cannot run services, or None when it is a manager."""
    swarm = api.info().get("Swarm") or {}
    if swarm.get("LocalNodeState") != "active":
        return (f"the Docker Engine at {address} is not part of a swarm; run `docker swarm "
                "init` there, or point deployment.swarm.engine at a manager")
    if not swarm.get("ControlAvailable"):
        return (f"the Docker Engine at {address} is a swarm worker, not a manager; point "
                "deployment.swarm.engine at a manager")
    return None


class ServiceSettings(msgspec.Struct, frozen=True):
    """What the runner needs beyond the `LaunchSpec`: the service's side of things."""

    job: str
    agent_id: str
    name: str
    image: str
    network: str
    port: int
    published_port: int
    labels: Mapping[str, str]
    working_dir: str | None = None
    constraints: tuple[str, ...] = ()
    spreads: tuple[str, ...] = ()
    nano_cpus: int | None = None
    memory: int | None = None
    schedule_timeout: float = 60.0


def service_settings(job: str, schedule_timeout: float, agent: Agent, network: str,
                     published: int, marks: Mapping[str, str]) -> ServiceSettings:
    """`job` is the job's name; `schedule_timeout` the job's `deployment.timeout`."""
    resources = agent.resources
    placement = agent.deployment.placement
    assert agent.deployment.image is not None  # the loader guarantees it
    return ServiceSettings(
        job=job,
        agent_id=agent.id,
        name=service_name(job, agent.id),
        image=agent.deployment.image,
        network=network,
        port=agent.config.port,
        published_port=published,
        labels=dict(marks),
        working_dir=agent.deployment.workdir,
        constraints=tuple(placement.constraints) if placement else (),
        spreads=tuple(spread_of(p) for p in placement.preferences) if placement else (),
        nano_cpus=nano_cpus(resources.cpu) if resources and resources.cpu else None,
        memory=memory_bytes(resources.memory) if resources and resources.memory else None,
        schedule_timeout=schedule_timeout,
    )


def create_service(api: Any, settings: ServiceSettings, spec: LaunchSpec) -> str:
    """One replica, Swarm's restarts off, the port published in host mode, DNS
    round-robin endpoints (the VIP mode needs IPVS, which some kernels lack)."""
    container = docker.types.ContainerSpec(
        settings.image,
        args=list(spec.argv),
        env=dict(spec.env),
        workdir=settings.working_dir,
        labels=dict(settings.labels),
        stop_grace_period=max(int(spec.stop_timeout * 1e9), 0),
        stop_signal=spec.stop_signal,
        init=True,
    )
    limits = {"cpu_limit": settings.nano_cpus, "cpu_reservation": settings.nano_cpus,
              "mem_limit": settings.memory, "mem_reservation": settings.memory}
    template = docker.types.TaskTemplate(
        container,
        resources=docker.types.Resources(**limits) if any(limits.values()) else None,
        restart_policy=docker.types.RestartPolicy(condition="none"),
        placement=docker.types.Placement(
            constraints=list(settings.constraints) or None,
            preferences=[("spread", s) for s in settings.spreads] or None,
        ),
        networks=[docker.types.NetworkAttachmentConfig(settings.network,
                                                       aliases=[settings.agent_id])],
    )
    endpoint = docker.types.EndpointSpec(
        mode="dnsrr", ports={settings.published_port: (settings.port, "tcp", "host")}
    )
    created = api.create_service(
        template, name=settings.name, labels=dict(settings.labels),
        mode=docker.types.ServiceMode("replicated", replicas=1), endpoint_spec=endpoint,
    )
    service_id: str = created["ID"]
    return service_id


class Outcome(msgspec.Struct, frozen=True):
    """How far a task has got: still on its way, running, or over.

    `unschedulable`: Swarm cannot place it, or the node rejected it; `unstarted`: the
    node tried to start its container and failed (its published port is taken there,
    say), so the agent never ran. Both carry Swarm's reason. `ended` carries the exit
    code, and a reason when Swarm gives one beyond the exit code."""

    kind: str  # "waiting", "unschedulable", "unstarted", "running", "ended"
    reason: str | None = None
    exit_code: int | None = None


_EXIT_ERROR = "task: non-zero exit"
"""How Swarm's `Err` begins when a task's container ran and exited with a non-zero code."""


def task_outcome(task: Mapping[str, Any]) -> Outcome:
    """Read one task's state the way agentsup reports it."""
    status = task.get("Status") or {}
    state = status.get("State", "")
    error = status.get("Err") or None
    code = (status.get("ContainerStatus") or {}).get("ExitCode")
    if state in WAITING_STATES:
        # A pending task with an error is one Swarm cannot place ("no suitable node").
        if state == "pending" and error:
            return Outcome("unschedulable", error)
        return Outcome("waiting")
    if state == "running":
        return Outcome("running")
    if state == "rejected":
        return Outcome("unschedulable", error or "rejected by the node")
    if state == "complete":
        return Outcome("ended", None, int(code) if code is not None else 0)
    if error and error.startswith(_EXIT_ERROR):
        return Outcome("ended", None, int(code) if code is not None else None)
    # `Message` is the step the task was at: "started" once its container ran.
    if state == "failed" and error and status.get("Message") != "started":
        return Outcome("unstarted", error)
    if code is None:
        return Outcome("ended", error or f"task {state or 'vanished'}")
    return Outcome("ended", error, int(code))  # shut down (the service was removed)


def service_tasks(api: Any, service_id: str) -> list[dict[str, Any]]:
    tasks: list[dict[str, Any]] = api.tasks(filters={"service": service_id})
    return tasks


_STREAMS = {1: "stdout", 2: "stderr"}


class ServiceLogs:
    """A followed log stream of one service, both output streams in one connection.

    The SDK's `service_logs` drops which stream a frame came from, and its stream never
    ends by itself: Swarm keeps a followed stream open after the task ended and even
    after the service is gone. `close` shuts the connection from another thread, so a
    launch leaves no reader behind.
    """

    def __init__(self, api: Any, service_id: str) -> None:
        response = api._get(
            api._url("/services/{0}/logs", service_id),
            params={"follow": 1, "stdout": 1, "stderr": 1, "tail": "all"},
            stream=True, timeout=None,
        )
        api._raise_for_status(response)
        self._response = response
        self._cancel = docker.types.CancellableStream(iter(()), response)

    def frames(self) -> Iterator[tuple[str, bytes]]:
        """(`stdout` or `stderr`, payload) for every frame, until the stream ends."""
        raw = self._response.raw
        while True:
            header = raw.read(8)
            if len(header) < 8:
                return
            kind, length = struct.unpack(">BxxxL", header)
            data = raw.read(length) if length else b""
            if length and not data:
                return
            yield _STREAMS.get(kind, "stdout"), data

    def close(self) -> None:
        try:
            self._cancel.close()
        except Exception:  # closed already, or a transport that cannot be cancelled
            self._response.close()


def node_address(api: Any, node_id: str) -> tuple[str, str]:
    """(host name, address) of a node. A manager may report 0.0.0.0 as its address;
    its manager address says where it listens then."""
    node = api.inspect_node(node_id)
    name = ((node.get("Description") or {}).get("Hostname")) or node_id[:12]
    address = (node.get("Status") or {}).get("Addr") or ""
    if address in ("", "0.0.0.0"):
        manager = (node.get("ManagerStatus") or {}).get("Addr") or ""
        address = manager.rpartition(":")[0] or address
    if not address:
        raise RunnerError(f"node {name} has no address in the Engine API")
    return name, address


def _grace_seconds(spec: Mapping[str, Any]) -> float:
    """A service's stop grace period: how long its task may take to end once removed."""
    container = ((spec.get("TaskTemplate") or {}).get("ContainerSpec")) or {}
    grace = container.get("StopGracePeriod")
    return DEFAULT_GRACE if grace is None else int(grace) / 1e9


def job_services(api: Any, job: str, run_id: str | None = None) -> list[Found]:
    wanted = [f"{LABEL_JOB}={job}"]
    if run_id is not None:
        wanted.append(f"{LABEL_RUN}={run_id}")
    found = []
    for attrs in api.services(filters={"label": wanted}):
        spec = attrs.get("Spec") or {}
        marks = spec.get("Labels") or {}
        found.append(Found(kind="service", id=attrs["ID"], name=spec.get("Name", attrs["ID"]),
                           agent=marks.get(LABEL_AGENT), run=marks.get(LABEL_RUN),
                           grace=_grace_seconds(spec)))
    return found


def remove_service(api: Any, service: str) -> bool:
    """Remove a service (Swarm stops its task with the stop signal and grace period);
    False when it was already gone."""
    try:
        api.remove_service(service)
    except docker.errors.NotFound:
        return False
    except docker.errors.APIError as exc:
        raise RunnerError(f"cannot remove service {service}: {exc.explanation}") from exc
    except (docker.errors.DockerException, OSError) as exc:
        raise unreachable(f"cannot remove service {service}", exc) from exc
    return True


def remove_network_when_gone(api: Any, network: Found, timeout: float) -> bool:
    """Remove an overlay network and return once it no longer exists; False when it was
    gone already.

    Swarm accepts the removal of an overlay network that tasks of removed services still
    use and deletes it only once those tasks are over, on every node: until then its
    name is taken, and creating the job's network again fails. A network that is still
    there after `timeout` seconds (a task on a node that went away, say) is an error
    that names it.
    """
    deadline = time.monotonic() + timeout
    asked = False
    while True:
        try:
            if not asked:
                if not remove_network(api, network.id):
                    return False
                asked = True
            if not network_exists(api, network.id):
                return True
        except EngineUnreachable:
            raise
        except RunnerError:  # refused: still in use by a container attached to it
            if time.monotonic() >= deadline:
                raise
        if time.monotonic() >= deadline:
            raise RunnerError(
                f"overlay network {network.name} is still there {timeout:g} s after its "
                "removal: tasks of the job's removed services still hold it (`docker "
                "service ps` / `docker network inspect` on the nodes say which)"
            )
        time.sleep(NETWORK_POLL_INTERVAL)


def clear_job(api: Any, job: str, run_id: str | None = None) -> Iterator[Found]:
    """Remove the job's services, then its overlay networks; yields each as it goes.
    A network is yielded once it is really gone, so that it can be created again."""
    grace = 0.0
    for found in job_services(api, job, run_id):
        if remove_service(api, found.id):
            grace = max(grace, found.grace)
            yield found
    for found in job_networks(api, job, overlay=True):
        ours = found.name == overlay_name(job) and (run_id is None or found.run == run_id)
        if ours and remove_network_when_gone(api, found, grace + NETWORK_RELEASE_TIMEOUT):
            yield found
