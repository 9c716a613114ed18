"""Swarm agents on a real two-node swarm on this machine, through the real CLI.

The swarm is `scripts/test-swarm` (see tests/swarmenv.py): the local Engine is the
manager at 10.210.0.1, a second dockerd in a network namespace the worker at 10.210.0.2.
The agents are `tests/agents/peeragent.py` (in a task as `python3 -c "<its source>"`):
asked for `/peers`, an agent GETs `/whoami` from every URL it was given, so each URL is
proven from where its caller runs: the worker's agent reaches the manager's through the
overlay name, and an agent on this machine reaches the worker's through the address of
the node its task runs on.

The first tests need no swarm: the loader's checks of Swarm's placement syntax, the
plan's URLs, the reading of task states, and the Engine checks before anything starts.
"""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import docker
import pytest
import yaml
from clirun import agentsup_command, free_ports, supervisor
from dockerenv import docker_client, docker_image
from swarmenv import MANAGER_ADDRESS, WORKER_ADDRESS, Swarm, labelled, swarm, swarm_job

from agentsup.job.loader import load_job
from agentsup.liveurls import placeholder
from agentsup.plan import TopologyResolver
from agentsup.runners._swarm_engine import task_outcome

__all__ = ["docker_client", "docker_image", "swarm", "swarm_job"]  # fixtures used by name

PEER_AGENT = Path(__file__).parent / "agents" / "peeragent.py"
PEER_SOURCE = PEER_AGENT.read_text()
IMAGE = "agentsup-test-python:bookworm"
SWARM_TIMEOUT = 480
"""Seconds per test that needs the swarm: the first one may build the image and the swarm."""


# ---------------------------------------------------------------------- helpers


def swarm_agent(agent_id: str, port: int, *constraints: str, **deployment: Any) -> dict[str, Any]:
    return {
        "id": agent_id,
        "command": ["python3", "-c", PEER_SOURCE],
        "config": {"port": port},
        "deployment": {"target": "swarm", "image": IMAGE,
                       "placement": {"constraints": list(constraints)}, **deployment},
    }


def local_agent(agent_id: str, port: int) -> dict[str, Any]:
    return {
        "id": agent_id,
        "command": [sys.executable, str(PEER_AGENT)],
        "config": {"port": port},
        "deployment": {"environment": {"BIND_ADDRESS": "127.0.0.1"}},
    }


def write_job(tmp_path: Path, name: str, agents: list[dict[str, Any]],
              topology: dict[str, Any], **deployment: Any) -> Path:
    job = {
        "job": {"name": name},
        "agents": agents,
        "topology": topology,
        "deployment": {
            "timeout": 60,
            "stop_timeout": 3,
            "health_check": {"interval": 1, "retries": 2, "timeout": 2},
            **deployment,
        },
    }
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump(job, sort_keys=False))
    return path


def get_json(url: str) -> Any:
    import urllib.request

    with urllib.request.urlopen(url, timeout=20) as response:
        return json.loads(response.read())


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(agentsup_command(*args), capture_output=True, text=True,
                          timeout=120, check=False)


def events_of(result: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def worker_container(swarm: Swarm, job: str, agent: str) -> Any:
    (container,) = swarm.worker.containers.list(
        filters={"label": [f"agentsup.job={job}", f"agentsup.agent={agent}"]}
    )
    return container


# ---------------------------------------------------------------------- without a swarm


def test_placement_syntax_is_checked_with_positions(tmp_path: Path) -> None:
    job = tmp_path / "job.yaml"
    job.write_text(textwrap.dedent("""\
        job: {name: placed}
        agents:
          - id: a
            command: [sleep, "100"]
            config: {port: 18555}
            deployment:
              target: swarm
              image: some:image
              placement:
                constraints: ["node.role=worker", "node.colour==red", "node.role==boss"]
                preferences: ["spread=node.labels.zone", "pack=node.id"]
          - id: b
            command: [sleep, "100"]
            config: {port: 18556}
            deployment: {placement: {constraints: ["node.role==worker"]}}
        topology: {type: mesh}
        """))
    result = run_cli("validate", str(job))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [
        f"{job}:10:23: agents[0].deployment.placement.constraints[0]: 'node.role=worker' is "
        "not a constraint: write KEY==VALUE or KEY!=VALUE, like node.role==worker",
        f"{job}:10:43: agents[0].deployment.placement.constraints[1]: unknown constraint key "
        "'node.colour'; use one of node.id, node.hostname, node.role, node.platform.os, "
        "node.platform.arch, node.labels.NAME or engine.labels.NAME",
        f"{job}:10:63: agents[0].deployment.placement.constraints[2]: node.role is 'manager' "
        "or 'worker', not 'boss'",
        f"{job}:11:50: agents[0].deployment.placement.preferences[1]: 'pack=node.id' is not a "
        "preference: write spread=node.labels.NAME",
        f"{job}:15:18: agents[1].deployment.placement: 'placement' applies to swarm agents "
        "only",
    ]


def test_names_swarm_would_refuse_are_load_time_errors_with_positions(tmp_path: Path) -> None:
    # Swarm's names are DNS name components of at most 63 characters; the loader's ids
    # may have dots and any length. (That Swarm refuses these is checked by hand: its
    # error is "name must be valid as a DNS name component" / "63 characters or fewer".)
    long_id = "x" * 46
    agents = [
        {**swarm_agent("agent.v2", 18601), "id": "agent.v2"},
        {**swarm_agent(long_id, 18602), "id": long_id},
        swarm_agent("fine_name", 18603),
        local_agent("local.dotted", 18604),
    ]
    path = write_job(tmp_path, "names-ok", agents, {"type": "dynamic"})
    lines = path.read_text().splitlines()
    first, second = (lines.index(f"- id: {name}") + 1 for name in ("agent.v2", long_id))
    result = run_cli("validate", str(path))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [
        f"{path}:{first}:7: agents[0].id: service name 'agentsup-names-ok-agent.v2' is not a "
        "name Swarm takes: letters, digits, '-' and '_' only (no '.'), ending in a letter or "
        "digit",
        f"{path}:{second}:7: agents[1].id: service name 'agentsup-names-ok-{long_id}' is 64 "
        "characters; Swarm takes at most 63: shorten the job name or the agent id",
    ]
    path.write_text(path.read_text().replace("names-ok", "names.dotted"))
    result = run_cli("validate", str(path))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"{path}:2:9: job.name: overlay network name 'agentsup-names.dotted-swarm' is not a "
        "name Swarm takes: letters, digits, '-' and '_' only (no '.'), ending in a letter or "
        "digit",
    ]


def test_plan_urls_overlay_names_for_peers_and_a_placeholder_for_the_rest(
    tmp_path: Path,
) -> None:
    path = write_job(
        tmp_path, "urls",
        [swarm_agent("callee", 9101), swarm_agent("caller", 9102, host_port=9202),
         local_agent("front", 9103)],
        {"type": "pipeline", "stages": ["front", "caller", "callee"]},
    )
    plan = TopologyResolver().resolve(load_job(path).definition)
    assert plan.connections["caller"] == ("http://callee:9101",)
    assert plan.connections["front"] == (placeholder("caller", 9202),)
    assert plan.agent_urls["callee"] == "http://{node of callee}:9101"
    assert plan.agent_urls["caller"] == "http://{node of caller}:9202"


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ({"State": "pending", "Err": "no suitable node (scheduling constraints not "
          "satisfied on 2 nodes)"},
         ("unschedulable", "no suitable node (scheduling constraints not satisfied on 2 "
          "nodes)", None)),
        ({"State": "pending"}, ("waiting", None, None)),
        ({"State": "rejected", "Err": "No such image: x:y"},
         ("unschedulable", "No such image: x:y", None)),
        ({"State": "running", "ContainerStatus": {"ExitCode": 0}}, ("running", None, None)),
        ({"State": "failed", "Message": "started", "Err": "task: non-zero exit (137)",
          "ContainerStatus": {"ExitCode": 137}},
         ("ended", None, 137)),
        ({"State": "failed", "Message": "starting", "Err": "starting container failed: "
          "... bind: address already in use", "ContainerStatus": {"PID": 0, "ExitCode": 128}},
         ("unstarted", "starting container failed: ... bind: address already in use", None)),
        ({"State": "complete", "ContainerStatus": {"ExitCode": 0}}, ("ended", None, 0)),
        ({"State": "shutdown", "ContainerStatus": {"ExitCode": 0}}, ("ended", None, 0)),
        ({"State": "shutdown"}, ("ended", "task shutdown", None)),
    ],
)
def test_task_states_are_read_as_agentsup_reports_them(
    status: dict[str, Any], expected: tuple[str, str | None, int | None]
) -> None:
    outcome = task_outcome({"Status": status})
    assert (outcome.kind, outcome.reason, outcome.exit_code) == expected


@pytest.mark.integration
def test_an_unreachable_engine_stops_the_job_before_anything_starts(tmp_path: Path) -> None:
    (port,) = free_ports(1)
    missing = f"unix://{tmp_path}/no-such.sock"
    path = write_job(tmp_path, "noengine", [swarm_agent("solo", port)], {"type": "dynamic"},
                     swarm={"engine": missing})
    result = run_cli("start", str(path), "--log-format", "json")
    assert result.returncode == 1, result.stderr
    (failed,) = [e for e in events_of(result) if e["event"] == "job.failed"]
    assert failed["reason"].startswith(f"cannot reach the Docker Engine at {missing}: ")
    assert failed["reason"].endswith("; nothing was started")
    assert not [e for e in events_of(result) if e["event"] == "agent.starting"]


# ---------------------------------------------------------------------- with the swarm


@pytest.mark.integration
@pytest.mark.timeout(SWARM_TIMEOUT)
def test_a_worker_engine_is_refused_as_not_a_manager(
    tmp_path: Path, swarm: Swarm, swarm_job: str
) -> None:
    (port,) = free_ports(1)
    path = write_job(tmp_path, swarm_job, [swarm_agent("solo", port)], {"type": "dynamic"},
                     swarm={"engine": swarm.worker_host})
    result = run_cli("start", str(path), "--log-format", "json")
    assert result.returncode == 1, result.stderr
    (failed,) = [e for e in events_of(result) if e["event"] == "job.failed"]
    assert failed["reason"] == (
        f"the Docker Engine at {swarm.worker_host} is a swarm worker, not a manager; point "
        "deployment.swarm.engine at a manager; nothing was started"
    )
    assert labelled(swarm.manager, swarm_job) == ([], [])


@pytest.mark.integration
@pytest.mark.timeout(SWARM_TIMEOUT)
def test_agents_on_both_nodes_reach_each_other_restart_and_leave_nothing(
    tmp_path: Path, swarm: Swarm, swarm_job: str
) -> None:
    # front (this machine) -> on_worker (worker) -> on_manager (manager)
    p_mgr, p_wrk, p_front = free_ports(3)
    path = write_job(
        tmp_path, swarm_job,
        [{**swarm_agent("on_manager", p_mgr, "node.role==manager"),
          "resources": {"cpu": 0.5, "memory": "256M"}},
         swarm_agent("on_worker", p_wrk, "node.role==worker"),
         local_agent("front", p_front)],
        {"type": "pipeline", "stages": ["front", "on_worker", "on_manager"]},
        restart={"policy": "on-failure", "max_restarts": 3, "backoff": {"initial": 0.2}},
    )
    with supervisor(path) as run:
        run.wait_for("job.ready", timeout=120)
        spec = swarm.manager.services.get(f"agentsup-{swarm_job}-on_manager").attrs["Spec"]
        task = spec["TaskTemplate"]
        assert spec["Labels"]["agentsup.job"] == swarm_job
        assert spec["Labels"]["agentsup.agent"] == "on_manager"
        assert spec["Mode"] == {"Replicated": {"Replicas": 1}}
        assert spec["EndpointSpec"]["Mode"] == "dnsrr"
        assert spec["EndpointSpec"]["Ports"] == [
            {"Protocol": "tcp", "PublishMode": "host", "PublishedPort": p_mgr,
             "TargetPort": p_mgr}]
        assert task["RestartPolicy"]["Condition"] == "none"
        assert task["ContainerSpec"]["StopGracePeriod"] == 3_000_000_000
        assert task["Networks"][0]["Aliases"] == ["on_manager"]
        assert task["Resources"]["Limits"] == {"NanoCPUs": 500_000_000,
                                               "MemoryBytes": 256 * 1024**2}
        assert task["Resources"]["Reservations"] == task["Resources"]["Limits"]
        started = {e["agent"]: e["host"] for e in run.named("agent.started")}
        assert started["on_manager"].endswith(f"({MANAGER_ADDRESS})")
        assert started["on_worker"].endswith(f"({WORKER_ADDRESS})")
        ready = {e["agent"]: e["url"] for e in run.named("agent.ready")}
        assert ready["on_manager"] == f"http://{MANAGER_ADDRESS}:{p_mgr}"
        assert ready["on_worker"] == f"http://{WORKER_ADDRESS}:{p_wrk}"
        assert ready["front"] == f"http://localhost:{p_front}"

        # Across the nodes through the overlay, and from this machine to the worker.
        assert get_json(f"http://{WORKER_ADDRESS}:{p_wrk}/peers") == {
            "id": "on_worker",
            "results": {f"http://on_manager:{p_mgr}": {"id": "on_manager"}},
        }
        assert get_json(f"http://localhost:{p_front}/peers") == {
            "id": "front",
            "results": {f"http://{WORKER_ADDRESS}:{p_wrk}": {"id": "on_worker"}},
        }
        lines = [e for e in run.named("agent.output") if e["agent"] == "on_worker"]
        assert {"stdout", "stderr"} <= {e["stream"] for e in lines}
        assert "stderr line from on_worker" in [e.get("line") for e in lines]

        # A task killed on the worker is a failure, and agentsup's policy restarts it.
        first = worker_container(swarm, swarm_job, "on_worker")
        first.kill()
        exited = run.wait_for("agent.exited", timeout=60)
        assert exited["agent"] == "on_worker" and exited["run"] == 1
        assert exited["exit_code"] == 137
        run.wait_for("agent.restarting", timeout=30, where=lambda e: e["agent"] == "on_worker")
        run.wait_for("agent.ready", timeout=90,
                     where=lambda e: e["agent"] == "on_worker" and e["run"] == 2)
        assert worker_container(swarm, swarm_job, "on_worker").id != first.id
        assert get_json(f"http://{WORKER_ADDRESS}:{p_wrk}/peers")["results"] == {
            f"http://on_manager:{p_mgr}": {"id": "on_manager"}
        }

        run.signal(signal.SIGTERM)
        assert run.wait(timeout=90) == 0, run.stderr_text()
    assert labelled(swarm.manager, swarm_job) == ([], [])
    assert run.named("network.removed")[0]["network"] == f"agentsup-{swarm_job}-swarm"


@pytest.mark.integration
@pytest.mark.timeout(SWARM_TIMEOUT)
def test_down_removes_what_a_killed_supervisor_left(
    tmp_path: Path, swarm: Swarm, swarm_job: str
) -> None:
    (port,) = free_ports(1)
    path = write_job(tmp_path, swarm_job, [swarm_agent("solo", port, "node.role==worker")],
                     {"type": "dynamic"})
    with supervisor(path) as run:
        run.wait_for("job.ready", timeout=120)
        run.kill()  # SIGKILL: no clean-up at all
        # (Checked before the helper's own clean-up, which ends the agents' pids.)
        assert get_json(f"http://{WORKER_ADDRESS}:{port}/whoami") == {"id": "solo"}
    services, networks = labelled(swarm.manager, swarm_job)
    assert [s.name for s in services] == [f"agentsup-{swarm_job}-solo"]
    assert [n.name for n in networks] == [f"agentsup-{swarm_job}-swarm"]

    result = run_cli("down", str(path), "--log-format", "json")
    assert result.returncode == 0, result.stderr
    cleaned = sorted(e["removed"] for e in events_of(result) if e["event"] == "job.cleaned")
    assert cleaned == [
        f"network agentsup-{swarm_job}-swarm",
        f"service agentsup-{swarm_job}-solo (agent 'solo')",
    ]
    assert labelled(swarm.manager, swarm_job) == ([], [])


@pytest.mark.integration
@pytest.mark.timeout(SWARM_TIMEOUT)
def test_a_start_right_after_a_killed_supervisor_waits_until_the_old_network_is_gone(
    tmp_path: Path, swarm: Swarm, swarm_job: str
) -> None:
    # Swarm accepts the removal of an overlay network whose tasks are still being torn
    # down and deletes it only later: the next start must not create it before then.
    p_mgr, p_wrk = free_ports(2)
    path = write_job(tmp_path, swarm_job,
                     [swarm_agent("on_manager", p_mgr, "node.role==manager"),
                      swarm_agent("on_worker", p_wrk, "node.role==worker")],
                     {"type": "dynamic"})
    with supervisor(path) as first:
        first.wait_for("job.ready", timeout=120)
        old_network = swarm.manager.networks.get(f"agentsup-{swarm_job}-swarm").id
        first.kill()  # SIGKILL: services, tasks and the network stay
        # (Inside the helper's block, whose exit ends the agents' pids on the nodes.)
        with supervisor(path) as second:
            second.wait_for("job.ready", timeout=120)
            removed = second.index_of("network.removed")
            assert second.events[removed]["reason"] == "left over from an earlier run"
            assert removed < second.index_of("network.created")
            assert not second.named("swarm.cleanup_failed")
            assert swarm.manager.networks.get(f"agentsup-{swarm_job}-swarm").id != old_network
            assert get_json(f"http://{WORKER_ADDRESS}:{p_wrk}/whoami") == {"id": "on_worker"}
            second.signal(signal.SIGTERM)
            assert second.wait(timeout=90) == 0, second.stderr_text()
    assert labelled(swarm.manager, swarm_job) == ([], [])


@pytest.mark.integration
@pytest.mark.timeout(SWARM_TIMEOUT)
def test_an_unschedulable_task_is_a_failed_start_with_swarms_reason(
    tmp_path: Path, swarm: Swarm, swarm_job: str
) -> None:
    (port,) = free_ports(1)
    path = write_job(
        tmp_path, swarm_job,
        [swarm_agent("nowhere", port, "node.labels.agentsup-test-absent==yes")],
        {"type": "dynamic"}, restart={"policy": "no"},
    )
    with supervisor(path) as run:
        assert run.wait(timeout=120) == 1, run.stderr_text()
        (failed,) = run.named("agent.failed")
        assert failed["agent"] == "nowhere"
        assert failed["reason"].startswith(
            "Swarm cannot run the task of agent 'nowhere': no suitable node"
        ), failed
        assert not run.named("agent.ready")
    assert labelled(swarm.manager, swarm_job) == ([], [])


@pytest.mark.integration
@pytest.mark.timeout(SWARM_TIMEOUT)
def test_a_task_whose_port_is_taken_on_its_node_is_a_failed_start_with_swarms_reason(
    tmp_path: Path, swarm: Swarm, swarm_job: str
) -> None:
    import socket

    (port,) = free_ports(1)
    path = write_job(tmp_path, swarm_job, [swarm_agent("busy", port, "node.role==manager")],
                     {"type": "dynamic"}, restart={"policy": "no"})
    with socket.create_server(("0.0.0.0", port)), supervisor(path) as run:  # the manager
        assert run.wait(timeout=120) == 1, run.stderr_text()
        (failed,) = run.named("agent.failed")
        assert failed["reason"].startswith(
            "Swarm cannot run the task of agent 'busy': starting container failed: "
        ), failed
        assert "address already in use" in failed["reason"], failed
        assert not run.named("agent.started")
    assert labelled(swarm.manager, swarm_job) == ([], [])


@pytest.mark.integration
@pytest.mark.timeout(SWARM_TIMEOUT)
def test_an_image_the_node_lacks_is_a_failed_start_with_swarms_reason(
    tmp_path: Path, swarm: Swarm, swarm_job: str
) -> None:
    # A tag only the manager has: the worker cannot pull it (no registry) and rejects it.
    tag = f"agentsup-test-manager-only:{swarm_job}"
    swarm.manager.images.get(IMAGE).tag(tag)
    try:
        (port,) = free_ports(1)
        path = write_job(
            tmp_path, swarm_job,
            [swarm_agent("lacking", port, "node.role==worker", image=tag)],
            {"type": "dynamic"}, restart={"policy": "no"},
        )
        with supervisor(path) as run:
            assert run.wait(timeout=120) == 1, run.stderr_text()
            (failed,) = run.named("agent.failed")
            assert failed["reason"].startswith(
                "Swarm cannot run the task of agent 'lacking': "
            ), failed
            assert tag in failed["reason"], failed
    finally:
        swarm.manager.images.remove(tag)
    assert labelled(swarm.manager, swarm_job) == ([], [])


def test_a_placeholder_is_replaced_once_its_agent_is_bound() -> None:
    from agentsup import liveurls

    url = placeholder("lu-agent", 9500)
    assert liveurls.placeholder_agent(url) == "lu-agent"
    assert liveurls.placeholder_agent("http://lu-agent:9500") is None
    assert liveurls.live(url) == url  # not bound yet: the plan's text stays
    liveurls.bind("lu-agent", "http://10.0.0.7:9500")
    try:
        assert liveurls.live(url) == "http://10.0.0.7:9500"
        assert liveurls.live_map({"p": url, "q": "http://x:1"}) == {
            "p": "http://10.0.0.7:9500", "q": "http://x:1"}
    finally:
        liveurls.unbind("lu-agent")
    assert liveurls.live(url) == url


@pytest.mark.integration
@pytest.mark.timeout(SWARM_TIMEOUT)
def test_the_runner_reports_lines_and_the_exit_and_leaves_no_reader(
    swarm: Swarm, swarm_job: str
) -> None:
    # In-process, to see the runner's threads: Swarm never ends a followed log stream by
    # itself, so the runner must close it once the task is over.
    import threading

    from agentsup.runners._swarm_engine import ServiceSettings, connect
    from agentsup.runners._swarm_runner import SwarmRunner
    from agentsup.runners.base import ExitStatus, LaunchSpec

    network = swarm.manager.networks.create(
        f"agentsup-{swarm_job}-swarm", driver="overlay", attachable=True,
        labels={"agentsup.job": swarm_job},
    )
    api = connect("unix:///var/run/docker.sock")
    (port,) = free_ports(1)
    settings = ServiceSettings(
        job=swarm_job, agent_id="lines", name=f"agentsup-{swarm_job}-lines", image=IMAGE,
        network=network.name, port=port, published_port=port,
        labels={"agentsup.job": swarm_job, "agentsup.agent": "lines"},
        constraints=("node.role==worker",),
    )
    source = ("import sys, time\nprint('one', flush=True)\nprint('two', file=sys.stderr, "
              "flush=True)\ntime.sleep(1)\nsys.exit(3)")
    spec = LaunchSpec(agent_id="lines", argv=("python3", "-c", source), env={},
                      cwd=Path("/"), stop_timeout=2)
    lines: list[tuple[str, str]] = []
    exits: list[ExitStatus] = []
    exited = threading.Event()

    def on_exit(status: ExitStatus) -> None:
        exits.append(status)
        exited.set()

    runner = SwarmRunner(api, settings)
    try:
        info = runner.start(spec, lambda stream, line, *_: lines.append((stream, line)),
                            on_exit)
        assert info.host.endswith(f"({WORKER_ADDRESS})")
        assert exited.wait(60)
        assert exits == [ExitStatus(3)]
        assert ("stdout", "one") in lines and ("stderr", "two") in lines
        deadline = time.monotonic() + 10
        while any(t.name == "swarm-out-lines" for t in threading.enumerate()):
            assert time.monotonic() < deadline, "the log reader is still running"
            time.sleep(0.1)
    finally:
        runner.close()
        api.close()


@pytest.mark.integration
@pytest.mark.timeout(SWARM_TIMEOUT)
def test_a_container_agent_calls_a_swarm_agent_in_a_mixed_job(
    tmp_path: Path, swarm: Swarm, swarm_job: str
) -> None:
    # The swarm agent comes first: the container target's clean-up before the start
    # must leave the swarm's fresh overlay network alone. The task of `on_manager` runs
    # in a container of the local Engine that carries the job's labels: the container
    # target must leave it to Swarm as well. `asker`, on the worker, calls the container
    # agent at this machine's address: its port is published on every address for it,
    # since 127.0.0.1 of this machine cannot be reached from the worker.
    p_sw, p_mgr, p_ct, p_ask = free_ports(4)
    container = {
        "id": "boxed", "command": ["python3", "-c", PEER_SOURCE], "config": {"port": p_ct},
        "deployment": {"target": "container", "image": IMAGE},
    }
    path = write_job(tmp_path, swarm_job,
                     [swarm_agent("on_worker", p_sw, "node.role==worker"),
                      swarm_agent("on_manager", p_mgr, "node.role==manager"), container,
                      swarm_agent("asker", p_ask, "node.role==worker")],
                     {"type": "dag", "connections": [
                         {"from": "boxed", "to": ["on_worker", "on_manager"]},
                         {"from": "asker", "to": "boxed"}]},
                     network={"advertise_host": MANAGER_ADDRESS})
    try:
        with supervisor(path) as run:
            run.wait_for("job.ready", timeout=120)
            assert get_json(f"http://localhost:{p_ct}/peers") == {
                "id": "boxed",
                "results": {f"http://{WORKER_ADDRESS}:{p_sw}": {"id": "on_worker"},
                            f"http://{MANAGER_ADDRESS}:{p_mgr}": {"id": "on_manager"}},
            }
            assert get_json(f"http://{WORKER_ADDRESS}:{p_ask}/peers") == {
                "id": "asker",
                "results": {f"http://{MANAGER_ADDRESS}:{p_ct}": {"id": "boxed"}},
            }
            (boxed,) = swarm.manager.containers.list(
                filters={"label": [f"agentsup.job={swarm_job}", "agentsup.agent=boxed"]})
            assert boxed.attrs["HostConfig"]["PortBindings"] == {
                f"{p_ct}/tcp": [{"HostIp": "0.0.0.0", "HostPort": str(p_ct)}]}
            run.signal(signal.SIGTERM)
            assert run.wait(timeout=90) == 0, run.stderr_text()
        assert run.named("container.removed") == []
        assert {e["agent"] for e in run.named("agent.stopped")} == {
            "on_worker", "on_manager", "boxed", "asker"}
        assert labelled(swarm.manager, swarm_job) == ([], [])
        # Swarm removes the exited containers of removed services' tasks by itself, a
        # moment after the services; nobody else does. (The bound only ends a hang.)
        # `sparse`: the list as the Engine gives it, without inspecting each container,
        # which fails for one Swarm removes between the list and the inspection.
        labelled_containers = {"label": f"agentsup.job={swarm_job}"}
        deadline = time.monotonic() + 60
        while swarm.manager.containers.list(all=True, sparse=True,
                                            filters=labelled_containers):
            assert time.monotonic() < deadline, "Swarm left a task's container"
            time.sleep(0.5)
    finally:
        for leftover in swarm.manager.containers.list(
                all=True, sparse=True, filters={"label": f"agentsup.job={swarm_job}"}):
            with contextlib.suppress(docker.errors.NotFound):
                leftover.remove(force=True)
