"""The edges of a backend: the narrow context it is given, the per-agent settings that
come with each launch, and the local backend owning its hub (real processes)."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import msgspec

from agentsup import settings
from agentsup.app import job_context
from agentsup.job.loader import LoadedJob, load_job
from agentsup.logs import EventLog
from agentsup.plan import DeploymentPlan, TopologyResolver
from agentsup.runners.base import BackendContext, ExitStatus, LaunchSpec
from agentsup.runners.local import LocalBackend
from tests.clirun import agent_entry, free_ports, write_job_document


def load(tmp_path: Path, **deployment: object) -> LoadedJob:
    a, b = free_ports(2)
    first = agent_entry("a", a)
    first["deployment"] = {"stop_timeout": 2.5, "stop_signal": "SIGINT"}
    path = write_job_document(
        tmp_path, [first, agent_entry("b", b)], {"type": "mesh"}, **deployment
    )
    return load_job(path, import_check=False)


class Sink:
    """Records what a backend reports through its event sink, from whichever thread."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, dict[str, object]]] = []

    def __call__(self, event: str, level: str = "info", **fields: object) -> None:
        self.events.append((event, level, fields))


def test_the_context_holds_what_backends_read_and_nothing_of_the_job(tmp_path: Path) -> None:
    loaded = load(tmp_path, pull=True)
    job = loaded.definition
    plan = TopologyResolver().resolve(job)
    events = EventLog(job.job.name, fmt="json")
    try:
        context = job_context(loaded, plan, events)
    finally:
        events.close()
    assert context.job_name == "t"
    assert context.base_dir == loaded.base_dir
    assert context.pull is True
    assert context.ssh == job.deployment.ssh
    assert dict(context.host_ports) == dict(plan.host_ports)
    environment = context.environment(job.agent("a"))
    assert environment["AGENT_ID"] == "a"
    assert not hasattr(context, "job") and not hasattr(context, "plan")
    assert not hasattr(context, "events")


def test_process_settings_lay_the_agent_over_the_job(tmp_path: Path) -> None:
    job = load(tmp_path, stop_timeout=7.0, inherit_environment=False).definition
    own = settings.process_settings(job, job.agent("a"))
    inherited = settings.process_settings(job, job.agent("b"))
    assert (own.stop_timeout, own.stop_signal, own.inherit_environment) == (2.5, "SIGINT", False)
    assert (inherited.stop_timeout, inherited.stop_signal) == (7.0, "SIGTERM")


def test_launch_spec_takes_the_settings_given_with_it(tmp_path: Path) -> None:
    loaded = load(tmp_path)
    job = loaded.definition
    plan = TopologyResolver().resolve(job)
    sink = Sink()
    context = job_context_with_sink(loaded, plan, sink)
    backend = LocalBackend(context, list(job.agents))
    reloaded = msgspec.structs.replace(
        job, deployment=msgspec.structs.replace(job.deployment, stop_timeout=9.0)
    )
    spec = backend.launch_spec(
        job.agent("b"), {"X": "1"}, settings.process_settings(reloaded, job.agent("b"))
    )
    assert spec.stop_timeout == 9.0  # the job in force now, not the one the backend began with
    assert spec.env == {"X": "1"}


def job_context_with_sink(loaded: LoadedJob, plan: DeploymentPlan, sink: Sink) -> BackendContext:
    events = EventLog(loaded.definition.job.name, fmt="json")
    try:
        context = job_context(loaded, plan, events)
    finally:
        events.close()
    return msgspec.structs.replace(context, emit=sink)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()[0] != "Z"


def hub_threads() -> int:
    return sum(1 for t in threading.enumerate() if t.name == "agentsup-local-hub")


def test_the_local_backend_owns_its_hub_and_closing_it_ends_what_runs(tmp_path: Path) -> None:
    loaded = load(tmp_path)
    job = loaded.definition
    plan = TopologyResolver().resolve(job)
    backend = LocalBackend(job_context_with_sink(loaded, plan, Sink()), list(job.agents))
    before = hub_threads()
    exits: list[ExitStatus] = []
    done = threading.Event()

    def on_exit(status: ExitStatus) -> None:
        exits.append(status)
        done.set()

    runner = backend.runner_for(job.agent("a"))
    info = runner.start(
        LaunchSpec("a", ("sleep", "1000"), {}, tmp_path), lambda *_: None, on_exit
    )
    assert hub_threads() == before + 1
    backend.close()
    assert done.wait(10)
    assert exits == [ExitStatus(exit_code=None, signal=signal.SIGKILL)]
    deadline = time.monotonic() + 10
    while alive(info.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(info.pid)
    assert hub_threads() == before
