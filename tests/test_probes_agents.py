"""Every probe kind end to end: the real CLI, real agent processes (`agents/probeagent.py`).

The stock-hosts cases run `agentsup` in a private mount namespace with a Debian/Ubuntu
hosts file (`::1 localhost` before `127.0.0.1 localhost`) bound over /etc/hosts.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from clirun import agentsup_command, free_ports, supervisor, write_job_document
from mountns import private_mounts_or_skip
from test_probes_loop import make_cert

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]

PROBE_AGENT = Path(__file__).parent / "agents" / "probeagent.py"
HUB_SPOKE = {"type": "hub-spoke", "hub": "hub", "spokes": ["spoke"]}


def agent(agent_id: str, port: int, health: dict[str, Any] | None = None,
          deployment: dict[str, Any] | None = None, **env: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "id": agent_id,
        "command": [sys.executable, str(PROBE_AGENT)],
        "config": {"port": port},
        "deployment": {"environment": {k: str(v) for k, v in env.items()},
                       **(deployment or {})},
    }
    if health is not None:
        spec["health_check"] = health
    return spec


def one_agent_job(tmp_path: Path, health: dict[str, Any], timeout: float = 15,
                  **env: Any) -> Path:
    (port,) = free_ports(1)
    return write_job_document(
        tmp_path, [agent("solo", port, health, **env)], {"type": "dynamic"},
        interval=0.2, timeout=timeout,
    )


def ready_then_stop(job: Path) -> dict[str, Any]:
    with supervisor(job) as run:
        ready = run.wait_for("agent.ready")
        run.wait_for("job.ready")
        run.signal(signal.SIGTERM)
        assert run.wait() == 0
    return ready


def fails(job: Path) -> str:
    with supervisor(job) as run:
        failed = run.wait_for("job.failed")
        assert run.wait() == 1
        assert not run.named("agent.ready")
    return str(failed["reason"])


# ---------------------------------------------------------------------------- kinds


def test_exec_probe_runs_where_the_agent_runs(tmp_path: Path) -> None:
    # Relative to the agent's working directory, with the agent's environment.
    job = one_agent_job(
        tmp_path, {"type": "exec", "command": 'sh -c "test -f $FLAG_NAME"'},
        NO_LISTEN=1, READY_AFTER=0.3, READY_FILE=tmp_path / "loaded", FLAG_NAME="loaded",
    )
    ready = ready_then_stop(job)
    assert ready["agent"] == "solo"
    assert (tmp_path / "loaded").exists()


def test_a_failing_exec_probe_names_the_command_and_its_exit(tmp_path: Path) -> None:
    job = one_agent_job(tmp_path, {"type": "exec", "command": ["sh", "-c", "echo nope; exit 3"]},
                        timeout=1, NO_LISTEN=1)
    reason = fails(job)
    assert "sh exited with 3: nope" in reason


def test_log_probe_waits_for_the_line_and_liveness_falls_back_to_the_process(
    tmp_path: Path,
) -> None:
    job = one_agent_job(tmp_path, {"type": "log", "pattern": r"model loaded"},
                        NO_LISTEN=1, READY_AFTER=0.3)
    with supervisor(job) as run:
        run.wait_for("agent.ready")
        loaded = run.index_of("agent.output", lambda e: "model loaded" in e.get("line", ""))
        assert loaded < run.index_of("agent.ready")
        # Nothing listens, so any network liveness check would fail within a few
        # intervals (0.2 s, retries 2); the process being alive is what counts.
        threading.Event().wait(1.5)
        assert not run.named("agent.unhealthy")
        run.signal(signal.SIGTERM)
        assert run.wait() == 0


def test_a_log_pattern_that_never_matches_fails_the_start(tmp_path: Path) -> None:
    job = one_agent_job(tmp_path, {"type": "log", "pattern": "^never$"}, timeout=1,
                        NO_LISTEN=1)
    assert "no output line matched '^never$'" in fails(job)


@pytest.mark.parametrize("card", ["new", "old"])
def test_a2a_agent_is_ready_with_its_card_name(tmp_path: Path, card: str) -> None:
    ready = ready_then_stop(one_agent_job(tmp_path, {"type": "a2a"}, CARD=card))
    assert ready["name"] == "solo-card"


def test_a2a_without_a_card_is_never_ready(tmp_path: Path) -> None:
    reason = fails(one_agent_job(tmp_path, {"type": "a2a"}, timeout=1))
    assert "no agent card" in reason and "HTTP 404" in reason


def test_tcp_probe(tmp_path: Path) -> None:
    assert ready_then_stop(one_agent_job(tmp_path, {"type": "tcp"}))["agent"] == "solo"


def test_chunked_health_answers(tmp_path: Path) -> None:
    assert ready_then_stop(one_agent_job(tmp_path, {}, CHUNKED=1))["agent"] == "solo"


def test_https_agent_unverified_and_verified(tmp_path: Path) -> None:
    cert, key = make_cert(tmp_path, "agent")
    other, _ = make_cert(tmp_path, "other")
    tls = {"TLS_CERT": cert, "TLS_KEY": key}
    ready_then_stop(one_agent_job(tmp_path, {"scheme": "https"}, **tls))
    ready_then_stop(one_agent_job(tmp_path, {"scheme": "https", "ca_file": "agent.crt"},
                                  **tls))
    reason = fails(one_agent_job(tmp_path, {"scheme": "https", "ca_file": "other.crt"},
                                 timeout=1, **tls))
    assert "TLS: certificate verify failed" in reason, reason
    assert other.exists()


# ---------------------------------------------------------------------------- purposes


def test_readiness_and_liveness_override_the_shared_fields(tmp_path: Path) -> None:
    # The shared path answers 404: only the purpose-specific paths can pass.
    health = {"path": "/missing", "readiness": {"path": "/ready"},
              "liveness": {"path": "/live"}}
    job = one_agent_job(tmp_path, health, READY_AFTER=0.5)
    with supervisor(job) as run:
        ready = run.wait_for("agent.ready")
        assert ready["seconds"] >= 0.5  # /ready answered 503 until then
        threading.Event().wait(1.0)
        assert not run.named("agent.unhealthy")
        run.signal(signal.SIGTERM)
        assert run.wait() == 0


def test_liveness_enabled_false_turns_only_liveness_off(tmp_path: Path) -> None:
    health = {"path": "/missing", "readiness": {"path": "/ready"},
              "liveness": {"enabled": False}}
    with supervisor(one_agent_job(tmp_path, health)) as run:
        run.wait_for("agent.ready")
        threading.Event().wait(1.0)  # /missing would fail twice in this time
        assert not run.named("agent.unhealthy")
        run.signal(signal.SIGTERM)
        assert run.wait() == 0


def test_a_per_agent_start_timeout_overrides_the_jobs(tmp_path: Path) -> None:
    quick, slow = free_ports(2)
    job = write_job_document(
        tmp_path,
        [agent("hub", quick), agent("spoke", slow, {"path": "/ready"},
                                    deployment={"timeout": 1}, READY_AFTER=60)],
        HUB_SPOKE, interval=0.2, timeout=60,
    )
    reason = fails(job)
    assert "not ready within 1 s" in reason


# ---------------------------------------------------------------------------- owners


@contextmanager
def squatter(port: int) -> Iterator[None]:
    """Another program answering healthy HTTP on `port`."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("kind", ["http", "tcp"])
def test_a_port_squatter_never_makes_an_agent_ready(tmp_path: Path, kind: str) -> None:
    (port,) = free_ports(1)
    job = write_job_document(
        tmp_path, [agent("solo", port, {"type": kind}, NO_LISTEN=1)], {"type": "dynamic"},
        interval=0.2, timeout=2,
    )
    with supervisor(job) as run:
        run.wait_for("agent.started")  # after the port check that would refuse to start
        with squatter(port):
            failed = run.wait_for("job.failed")
            assert run.wait() == 1
    assert not run.named("agent.ready")
    assert "another program has the port" in failed["reason"], failed["reason"]


# ---------------------------------------------------------------------------- addresses


def stock_hosts_command(tmp_path: Path, job: Path) -> list[str]:
    private_mounts_or_skip()
    hosts = tmp_path / "hosts"
    hosts.write_text("::1 localhost ip6-localhost ip6-loopback\n127.0.0.1 localhost\n")
    inner = " ".join(f"'{word}'" for word in agentsup_command(
        "start", str(job), "--log-format", "json"))
    return ["unshare", "-m", "sh", "-c", f"mount --bind {hosts} /etc/hosts && exec {inner}"]


def run_under_stock_hosts(tmp_path: Path, job: Path) -> list[dict[str, Any]]:
    """Start the job with the stock hosts file, wait for job.ready (or the end), stop."""
    import json

    process = subprocess.Popen(stock_hosts_command(tmp_path, job), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, start_new_session=True,
                               env=dict(os.environ))
    events: list[dict[str, Any]] = []
    assert process.stdout is not None
    try:
        for line in process.stdout:
            event = json.loads(line)
            events.append(event)
            if event["event"] == "job.ready":
                process.send_signal(signal.SIGTERM)
            if event["event"] in ("job.failed", "job.stopped"):
                break
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    if not events:
        assert process.stderr is not None
        pytest.fail(f"agentsup printed nothing: {process.stderr.read()}")
    return events


def test_stock_hosts_file_agents_on_127_0_0_1_become_ready(tmp_path: Path) -> None:
    hub, spoke = free_ports(2)
    job = write_job_document(tmp_path, [agent("hub", hub), agent("spoke", spoke)],
                             HUB_SPOKE, interval=0.2, timeout=20)
    events = run_under_stock_hosts(tmp_path, job)
    names = [e["event"] for e in events]
    assert "job.ready" in names, events[-5:]
    assert {e["agent"] for e in events if e["event"] == "agent.ready"} == {"hub", "spoke"}


def test_an_ipv6_only_agent_is_reached_at_localhost(tmp_path: Path) -> None:
    hub, spoke = free_ports(2)
    job = write_job_document(tmp_path, [agent("hub", hub), agent("spoke", spoke, BIND="::1")],
                             HUB_SPOKE, interval=0.2, timeout=20)
    events = run_under_stock_hosts(tmp_path, job)
    assert "job.ready" in [e["event"] for e in events], events[-5:]


def test_the_probes_example_comes_up_with_every_kind() -> None:
    example = Path(__file__).resolve().parents[1] / "examples" / "probes.yaml"
    with supervisor(example) as run:
        run.wait_for("job.ready", timeout=60)
        ready = {e["agent"]: e for e in run.named("agent.ready")}
        assert set(ready) == {"card", "port-only", "log-line", "by-command", "split"}
        assert ready["card"]["name"] == "EchoAgent card"
        run.signal(signal.SIGTERM)
        assert run.wait() == 0
