"""`agentsup reload` of swarm agents, on the real two-node test swarm (tests/swarmenv.py)
and through the real CLI: an added service publishes the host port of the new plan on
the node its task runs on, and a changed one is replaced; a swarm agent the reload moves
to the other node is followed there by its caller on this machine."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from clirun import agentsup_command, free_ports, supervisor
from dockerenv import docker_client, docker_image
from swarmenv import MANAGER_ADDRESS, WORKER_ADDRESS, Swarm, labelled, swarm, swarm_job
from test_swarm import SWARM_TIMEOUT, get_json, local_agent, swarm_agent, write_job

__all__ = ["docker_client", "docker_image", "swarm", "swarm_job"]  # fixtures used by name

pytestmark = [pytest.mark.integration]


def ctl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(agentsup_command(*args), capture_output=True, text=True,
                          timeout=240, env=dict(os.environ))


def answers(url: str) -> Any:
    try:
        return get_json(url + "/whoami")
    except OSError:
        return None


@pytest.mark.timeout(SWARM_TIMEOUT)
def test_reload_adds_a_service_on_its_new_host_port_and_replaces_a_changed_one(
    tmp_path: Path, swarm: Swarm, swarm_job: str
) -> None:
    p_one, p_two, published = free_ports(3)
    one = swarm_agent("one", p_one, "node.role==manager")
    job = write_job(tmp_path, swarm_job, [one], {"type": "dynamic"})
    with supervisor(job) as run:
        run.wait_for("job.ready", timeout=120)
        assert answers(f"http://{MANAGER_ADDRESS}:{p_one}") == {"id": "one"}
        (first,) = labelled(swarm.manager, swarm_job)[0]

        changed = swarm_agent("one", p_one, "node.role==manager",
                              environment={"MARK": "2"})
        two = swarm_agent("two", p_two, "node.role==worker", host_port=published)
        write_job(tmp_path, swarm_job, [changed, two], {"type": "dynamic"})
        mark = len(run.events)
        result = ctl("reload", str(job))
        assert result.returncode == 0, result.stderr + "\n".join(
            json.dumps(e) for e in run.events[mark:])
        assert result.stdout.splitlines() == ["added: two", "removed: -", "restarted: one"]
        reloaded = run.wait_for("job.reloaded", after=mark)
        assert reloaded["level"] == "info"
        urls = {e["agent"]: e["url"] for e in run.events[mark:] if e.get("event") == "agent.ready"}
        assert urls == {"one": f"http://{MANAGER_ADDRESS}:{p_one}",
                        "two": f"http://{WORKER_ADDRESS}:{published}"}
        assert answers(urls["two"]) == {"id": "two"}
        assert answers(urls["one"]) == {"id": "one"}
        services = labelled(swarm.manager, swarm_job)[0]
        assert sorted(s.name for s in services) == [
            f"agentsup-{swarm_job}-one", f"agentsup-{swarm_job}-two"]
        assert first.id not in {s.id for s in services}
        ports = {s.name: s.attrs["Spec"]["EndpointSpec"]["Ports"][0]["PublishedPort"]
                 for s in services}
        assert ports[f"agentsup-{swarm_job}-two"] == published

        stopped = ctl("stop", swarm_job)
        assert stopped.returncode == 0, stopped.stderr
        assert run.wait(timeout=90) == 0
    assert labelled(swarm.manager, swarm_job) == ([], [])


@pytest.mark.timeout(SWARM_TIMEOUT)
def test_a_caller_on_this_machine_follows_a_swarm_agent_the_reload_moves(
    tmp_path: Path, swarm: Swarm, swarm_job: str
) -> None:
    """`near` (this machine) calls `far` at the address of the node its task runs on. A
    reload that moves `far` from the worker to the manager restarts `near` once `far`
    is ready there, and `near` then reaches it at the new address."""
    p_far, p_near = free_ports(2)
    topology = {"type": "dag", "connections": [{"from": "near", "to": "far"}]}
    agents = [swarm_agent("far", p_far, "node.role==worker"), local_agent("near", p_near)]
    job = write_job(tmp_path, swarm_job, agents, topology)
    with supervisor(job) as run:
        run.wait_for("job.ready", timeout=120)
        peers = f"http://localhost:{p_near}/peers"
        on_worker, on_manager = f"http://{WORKER_ADDRESS}:{p_far}", f"http://{MANAGER_ADDRESS}:{p_far}"
        assert get_json(peers)["results"] == {on_worker: {"id": "far"}}

        agents[0] = swarm_agent("far", p_far, "node.role==manager")
        write_job(tmp_path, swarm_job, agents, topology)
        mark = len(run.events)
        result = ctl("reload", str(job))
        assert result.returncode == 0, result.stderr + "\n".join(
            json.dumps(e) for e in run.events[mark:])
        assert result.stdout.splitlines() == [
            "added: -", "removed: -", "restarted: far", "reconnected: near"]
        [restarting] = [e for e in run.events[mark:] if e.get("event") == "agent.restarting"]
        assert (restarting["agent"], restarting["because"]) == ("near", "far")
        assert restarting["reason"] == f"the URL of 'far' changed from {on_worker} to {on_manager}"
        assert get_json(peers)["results"] == {on_manager: {"id": "far"}}

        stopped = ctl("stop", swarm_job)
        assert stopped.returncode == 0, stopped.stderr
        assert run.wait(timeout=90) == 0
    assert labelled(swarm.manager, swarm_job) == ([], [])
