"""Container agents against the real Docker Engine, through the real CLI.

The agents are `tests/agents/peeragent.py`: on the host it runs as a file, in a container
as `python3 -c "<its source>"` (the job schema has no bind mounts, and the test image is
plain Debian with python3). Asked for `/peers`, an agent GETs `/whoami` from every URL
it was given in CONNECTED_AGENTS and reports who answered, so each URL is proven from
where its caller runs. All traffic stays on this machine: 127.0.0.1, the job's Docker
network and the Docker host's bridge address.
"""

from __future__ import annotations

import http.server
import json
import signal
import socket
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml
from clirun import Supervisor, agentsup_command, free_ports, supervisor
from dockerenv import docker_client, docker_image, job_name, labelled

from agentsup.runners._docker_engine import memory_bytes, nano_cpus
from agentsup.runners._engine_object import pump_output
from agentsup.runners.base import BatchOutput
from agentsup.runners.lines import Line, LineSplitter

__all__ = ["docker_client", "docker_image", "job_name"]  # fixtures used by name below

PEER_AGENT = Path(__file__).parent / "agents" / "peeragent.py"
PEER_SOURCE = PEER_AGENT.read_text()
IMAGE_TIMEOUT = 480
"""Seconds per test that needs the image: the first one may build it (about a minute)."""


# ---------------------------------------------------------------------- helpers


def container_agent(agent_id: str, port: int, image: str, **deployment: Any) -> dict[str, Any]:
    return {
        "id": agent_id,
        "command": ["python3", "-c", PEER_SOURCE],
        "config": {"port": port},
        "deployment": {"target": "container", "image": image, **deployment},
    }


def local_agent(agent_id: str, port: int, bind: str) -> dict[str, Any]:
    return {
        "id": agent_id,
        "command": [sys.executable, str(PEER_AGENT)],
        "config": {"port": port},
        "deployment": {"environment": {"BIND_ADDRESS": bind}},
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
    with urllib.request.urlopen(url, timeout=20) as response:
        return json.loads(response.read())


def run_down(job: Path, env: dict[str, str] | None = None) -> tuple[int, list[dict[str, Any]]]:
    import os

    result = subprocess.run(
        agentsup_command("down", str(job), "--log-format", "json"),
        capture_output=True, text=True, timeout=60, env={**os.environ, **(env or {})},
        check=False,
    )
    events = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    return result.returncode, events


def failure_reason(run: Supervisor) -> str:
    assert run.wait(timeout=60) == 1, run.stderr_text()
    failed = run.named("job.failed")
    assert failed, run.events
    return str(failed[0]["reason"])


# ---------------------------------------------------------------------- with the Engine


@pytest.mark.integration
@pytest.mark.timeout(IMAGE_TIMEOUT)
def test_mixed_job_every_agent_reaches_its_peers_and_sigterm_removes_everything(
    tmp_path: Path, docker_client: Any, docker_image: str, job_name: str
) -> None:
    # front (here) -> a (container) -> b (container) -> back (here)
    p_front, p_a, p_b, p_back, p_b_host = free_ports(5)
    b_name = f"{job_name}-custom-b"
    job = write_job(
        tmp_path, job_name,
        [
            local_agent("front", p_front, "127.0.0.1"),
            container_agent("a", p_a, docker_image),
            {**container_agent("b", p_b, docker_image, host_port=p_b_host,
                               container_name=b_name),
             "resources": {"cpu": 0.5, "memory": "256Mi"}},
            # Containers reach the Docker host on its bridge address, not on 127.0.0.1.
            local_agent("back", p_back, "0.0.0.0"),
        ],
        {"type": "dag", "connections": [
            {"from": "front", "to": "a"}, {"from": "a", "to": "b"}, {"from": "b", "to": "back"},
        ]},
    )
    with supervisor(job) as run:
        run.wait_for("job.ready", timeout=90)
        plan = run.named("plan.resolved")[0]
        urls = plan["agent_urls"]
        assert urls["a"] == f"http://127.0.0.1:{p_a}"
        assert urls["b"] == f"http://127.0.0.1:{p_b_host}"
        expected = {
            "front": {f"http://127.0.0.1:{p_a}": "a"},  # host to container: published port
            "a": {f"http://b:{p_b}": "b"},  # container to container: id on the network
            "b": {f"http://host.docker.internal:{p_back}": "back"},  # container to host
            "back": {},
        }
        for agent_id, peers in expected.items():
            assert plan["connections"][agent_id] == list(peers)
            answer = get_json(urls[agent_id] + "/peers")
            assert answer["id"] == agent_id
            assert answer["results"] == {url: {"id": peer} for url, peer in peers.items()}

        containers, networks = labelled(docker_client, job_name)
        assert [n.name for n in networks] == [f"agentsup-{job_name}"]
        network = networks[0]
        assert network.attrs["Labels"]["agentsup.job"] == job_name
        by_agent = {c.labels["agentsup.agent"]: c for c in containers}
        assert set(by_agent) == {"a", "b"}
        assert by_agent["a"].name == f"agentsup-{job_name}-a"
        assert by_agent["b"].name == b_name
        runs = {c.labels["agentsup.run"] for c in containers}
        assert runs == {network.attrs["Labels"]["agentsup.run"]}
        for agent_id, container in by_agent.items():
            attrs = container.attrs
            assert attrs["HostConfig"]["Init"] is True
            assert agent_id in attrs["NetworkSettings"]["Networks"][network.name]["Aliases"]
            assert attrs["HostConfig"]["ExtraHosts"] == ["host.docker.internal:host-gateway"]
        bindings = by_agent["b"].attrs["HostConfig"]["PortBindings"]
        assert bindings == {f"{p_b}/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(p_b_host)}]}
        assert by_agent["b"].attrs["HostConfig"]["NanoCpus"] == 500_000_000
        assert by_agent["b"].attrs["HostConfig"]["Memory"] == 256 * 1024**2

        started = {e["agent"]: e for e in run.named("agent.started")}
        assert started["b"]["host"] == b_name and started["b"]["pid"] > 0
        # Output from inside the container, with stdout and stderr kept apart.
        run.wait_for("agent.output", where=lambda e: e.get("agent") == "a"
                     and e["stream"] == "stderr" and e.get("line") == "stderr line from a")
        run.wait_for("agent.output", where=lambda e: e.get("agent") == "a"
                     and e["stream"] == "stdout"
                     and e.get("payload", {}).get("kind") == "listening")

        run.signal(15)
        assert run.wait(timeout=60) == 0, run.stderr_text()
        assert {e["agent"] for e in run.named("agent.stopped")} == {"front", "a", "b", "back"}
        assert run.named("job.stopped")[-1]["exit_code"] == 0
        assert labelled(docker_client, job_name) == ([], [])
        assert run.named("network.removed")[0]["network"] == f"agentsup-{job_name}"


@pytest.mark.integration
@pytest.mark.timeout(IMAGE_TIMEOUT)
def test_docker_kill_of_a_container_is_a_failure_and_triggers_a_restart(
    tmp_path: Path, docker_client: Any, docker_image: str, job_name: str
) -> None:
    (port,) = free_ports(1)
    job = write_job(
        tmp_path, job_name, [container_agent("solo", port, docker_image)],
        {"type": "dynamic"},
        restart={"policy": "on-failure", "max_restarts": 3, "backoff": {"initial": 0.2}},
    )
    with supervisor(job) as run:
        run.wait_for("job.ready", timeout=90)
        (first,) = labelled(docker_client, job_name)[0]
        first.kill()
        exited = run.wait_for("agent.exited", timeout=30)
        assert exited["agent"] == "solo" and exited["run"] == 1
        assert exited["exit_code"] == 137
        ready = run.wait_for("agent.ready", timeout=60, where=lambda e: e["run"] == 2)
        assert ready["agent"] == "solo"
        (second,) = labelled(docker_client, job_name)[0]
        assert second.id != first.id
        assert get_json(f"http://localhost:{port}/whoami") == {"id": "solo"}
        run.signal(15)
        assert run.wait(timeout=60) == 0, run.stderr_text()
    assert labelled(docker_client, job_name) == ([], [])


@pytest.mark.integration
@pytest.mark.timeout(IMAGE_TIMEOUT)
def test_leftovers_of_a_killed_supervisor_go_at_the_next_start_and_with_down(
    tmp_path: Path, docker_client: Any, docker_image: str, job_name: str
) -> None:
    (port,) = free_ports(1)
    job = write_job(tmp_path, job_name, [container_agent("solo", port, docker_image)],
                    {"type": "dynamic"})
    with supervisor(job) as first:
        first.wait_for("job.ready", timeout=90)
        first.kill()  # SIGKILL: no clean-up at all
        containers, networks = labelled(docker_client, job_name)
        assert len(containers) == 1 and len(networks) == 1
        assert get_json(f"http://localhost:{port}/whoami") == {"id": "solo"}

        # The next start of the same job removes them first, and says so.
        with supervisor(job) as second:
            second.wait_for("job.ready", timeout=90)
            removed = second.index_of("container.removed")
            assert second.named("container.removed")[0]["agent"] == "solo"
            assert second.named("network.removed")[0]["network"] == f"agentsup-{job_name}"
            assert removed < second.index_of("agent.started")
            second.kill()

            # `agentsup down` removes what the killed supervisor left.
            assert len(labelled(docker_client, job_name)[0]) == 1
            code, events = run_down(job)
            assert code == 0, events
            cleaned = sorted(e["removed"] for e in events if e["event"] == "job.cleaned")
            assert cleaned == [
                f"container agentsup-{job_name}-solo (agent 'solo')",
                f"network agentsup-{job_name}",
            ]
            assert labelled(docker_client, job_name) == ([], [])
            code, events = run_down(job)
            assert code == 0 and events[-1]["removed"] == 0


@pytest.mark.integration
@pytest.mark.timeout(IMAGE_TIMEOUT)
def test_a_missing_image_is_named_and_nothing_starts(
    tmp_path: Path, docker_client: Any, docker_image: str, job_name: str
) -> None:
    p_here, p_there = free_ports(2)
    job = write_job(
        tmp_path, job_name,
        [local_agent("here", p_here, "127.0.0.1"),
         container_agent("there", p_there, "agentsup-test-missing:never")],
        {"type": "dynamic"},
    )
    with supervisor(job) as run:
        reason = failure_reason(run)
    assert "image 'agentsup-test-missing:never' (agent 'there') is not on the Docker Engine" \
        in reason
    assert "pull: true" in reason and reason.endswith("nothing was started")
    assert run.named("agent.started") == []
    assert labelled(docker_client, job_name) == ([], [])


@pytest.mark.integration
@pytest.mark.timeout(IMAGE_TIMEOUT)
def test_a_host_port_in_use_is_a_clear_error(
    tmp_path: Path, docker_client: Any, docker_image: str, job_name: str
) -> None:
    port, busy = free_ports(2)
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", busy))
        holder.listen()
        job = write_job(tmp_path, job_name,
                        [container_agent("solo", port, docker_image, host_port=busy)],
                        {"type": "dynamic"})
        with supervisor(job) as run:
            reason = failure_reason(run)
    assert f"host port {busy} of agent 'solo' is already in use" in reason
    assert labelled(docker_client, job_name) == ([], [])



@pytest.mark.integration
@pytest.mark.timeout(IMAGE_TIMEOUT)
def test_two_containers_on_one_port_publish_different_host_ports(
    tmp_path: Path, docker_client: Any, docker_image: str, job_name: str
) -> None:
    # Each container has its own network namespace, so both may use one port inside;
    # the plan gives the second the next free number on the host.
    (port,) = free_ports(1)
    job = write_job(tmp_path, job_name,
                    [container_agent("one", port, docker_image),
                     container_agent("two", port, docker_image)],
                    {"type": "dynamic"})
    with supervisor(job) as run:
        run.wait_for("job.ready", timeout=60)
        urls = {e["agent"]: e["url"] for e in run.named("agent.ready")}
        assert urls["one"] == f"http://127.0.0.1:{port}"
        assert urls["two"] == f"http://127.0.0.1:{port + 1}"
        run.signal(signal.SIGTERM)
        assert run.wait(timeout=60) == 0
    assert labelled(docker_client, job_name) == ([], [])


@pytest.mark.integration
@pytest.mark.timeout(120)
def test_an_unreachable_engine_is_a_clear_error(tmp_path: Path) -> None:
    (port,) = free_ports(1)
    job = write_job(tmp_path, "dk-unreachable",
                    [container_agent("solo", port, "agentsup-test-python:bookworm")],
                    {"type": "dynamic"})
    env = {"DOCKER_HOST": "unix:///nonexistent.sock"}
    with supervisor(job, env=env) as run:
        reason = failure_reason(run)
    assert reason.startswith("cannot reach the Docker Engine at unix:///nonexistent.sock: ")
    assert "No such file or directory" in reason
    assert run.named("agent.started") == []

    code, events = run_down(job, env=env)
    assert code == 1
    assert "cannot reach the Docker Engine at unix:///nonexistent.sock" in events[-2]["reason"]


# ---------------------------------------------------------------------- without the Engine


@pytest.mark.parametrize(
    ("text", "expected"),
    [("512M", 512 * 1024**2), ("1G", 1024**3), ("2Gi", 2 * 1024**3), ("1.5GB", 1536 * 1024**2),
     ("100", 100), ("64K", 64 * 1024), ("10b", 10)],
)
def test_memory_sizes_are_binary_like_dockers(text: str, expected: int) -> None:
    assert memory_bytes(text) == expected


def test_cpu_cores_become_nano_cpus() -> None:
    assert nano_cpus(0.5) == 500_000_000
    assert nano_cpus(2) == 2_000_000_000


def test_output_chunks_become_lines_per_stream() -> None:
    frames: list[tuple[bytes | None, bytes | None]] = [
        (b"one\ntw", None), (None, b"err \xc3"), (b"o\r\nthree", None), (None, b"\xa9\n"),
        (b"\n", None), (None, b"tail without newline"),
    ]
    lines: list[tuple[str, str]] = []

    def record(stream: str, line: str, part: int | None = None, continued: bool = False) -> None:
        assert part is None and not continued
        lines.append((stream, line))

    pump_output(frames, record)
    assert lines == [
        ("stdout", "one"), ("stdout", "two"), ("stderr", "err é"), ("stdout", "three"),
        ("stderr", "tail without newline"),
    ]


def test_a_batch_callback_gets_each_frames_lines_in_one_call() -> None:
    long = "y" * (64 * 1024 + 10)
    frames: list[tuple[bytes | None, bytes | None]] = [
        (b"a\nb\nc", None), (None, b"e1\ne2\n"), (b"\nd\n" + long.encode() + b"\n", None),
        (b"no newline", None),
    ]
    calls: list[tuple[str, list[Line]]] = []
    pump_output(frames, BatchOutput(lambda stream, batch: calls.append((stream, list(batch)))))
    assert calls == [
        ("stdout", [Line("a"), Line("b")]),
        ("stderr", [Line("e1"), Line("e2")]),
        ("stdout", [Line("c"), Line("d"), Line(long[:64 * 1024], 1, True),
                    Line(long[64 * 1024:], 2, False)]),
        ("stdout", [Line("no newline")]),
    ]


def test_a_very_long_line_is_passed_on_in_pieces() -> None:
    splitter = LineSplitter()
    pieces = splitter.feed(b"x" * (64 * 1024 * 2 + 5))
    assert [(len(p.text), p.part, p.continued) for p in pieces] == [
        (64 * 1024, 1, True), (64 * 1024, 2, True)
    ]
    assert splitter.finish() == [Line("xxxxx", 3, False)]
    assert splitter.feed(b"short\n") == [Line("short")]


def test_pieces_of_a_long_line_are_cut_between_characters() -> None:
    splitter = LineSplitter()
    text = "é" * 100_000
    pieces = splitter.feed(text.encode() + b"\r\nnext\n")
    assert "".join(p.text for p in pieces[:-1]) == text
    assert [p.part for p in pieces[:-1]] == list(range(1, len(pieces)))
    assert [p.continued for p in pieces[:-1]] == [True] * (len(pieces) - 2) + [False]
    assert pieces[-1] == Line("next")


class _HttpOnIpv6Loopback(http.server.HTTPServer):
    address_family = socket.AF_INET6


class _Answers200(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.mark.timeout(IMAGE_TIMEOUT)
def test_a_listener_on_ipv6_loopback_does_not_answer_for_a_container(
        tmp_path: Path, docker_image: str, job_name: str, docker_client: Any) -> None:
    """With a stock hosts file `localhost` is ::1 first. Another program listening on
    [::1]:PORT must not make a container that never listens look ready: the URL names
    127.0.0.1, where Docker publishes the port. The supervisor runs in a mount namespace
    of its own (`unshare -m`) with such a hosts file bound over /etc/hosts."""
    (port,) = free_ports(1)
    hosts = tmp_path / "hosts"
    hosts.write_text("::1 localhost ip6-localhost ip6-loopback\n127.0.0.1 localhost\n")
    silent = {"id": "silent", "command": ["sleep", "600"], "config": {"port": port},
              "deployment": {"target": "container", "image": docker_image}}
    job = write_job(tmp_path, job_name, [silent], {"type": "dynamic"}, timeout=3)
    imposter = _HttpOnIpv6Loopback(("::1", port), _Answers200)
    threading.Thread(target=imposter.serve_forever, daemon=True).start()
    try:
        in_namespace = ("unshare", "-m", "sh", "-c",
                        'mount --bind "$0" /etc/hosts && exec "$@"', str(hosts))
        with supervisor(job, prefix=in_namespace) as run:
            assert run.wait(timeout=60) == 1  # deployment.timeout is 3 s
            assert not run.named("agent.ready")
            assert "not ready" in run.wait_for("job.failed")["reason"]
    finally:
        imposter.shutdown()
        imposter.server_close()
    assert labelled(docker_client, job_name) == ([], [])
