"""The example jobs in examples/: they validate, and the real CLI runs them end to end.

Each run starts `agentsup start examples/<job>.yaml --log-format json` as a subprocess, reads
its events until `job.ready`, talks to the real example agents over HTTP, then sends SIGTERM
and checks for exit 0, `job.stopped` and that no agent process is left.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
EXAMPLE_FILES = ["hub-spoke", "pipeline", "dag", "mesh", "hierarchical"]
READY_DEADLINE = 30.0
STOP_DEADLINE = 20.0

Event = dict[str, Any]


def http(url: str, body: Any = None, timeout: float = 5.0) -> Any:
    """GET `url` (POST `body` as JSON when given) and decode the JSON answer."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=timeout) as response:
        assert response.status == 200
        return json.loads(response.read())


def _alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie waiting to be reaped."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            state = stat.read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


class RunningJob:
    """`agentsup start` as a subprocess, with its stdout read into events on a thread."""

    def __init__(self, job_file: Path, stderr_path: Path) -> None:
        self.stderr_path = stderr_path
        self._stderr = stderr_path.open("wb")
        self.proc = subprocess.Popen(
            ["agentsup", "start", str(job_file.relative_to(ROOT)), "--log-format", "json"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            start_new_session=True,
        )
        self.events: list[Event] = []
        self.non_json: list[str] = []
        self._queue: queue.Queue[Event | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            line = raw.decode(errors="replace").rstrip("\n")
            try:
                event = json.loads(line)
            except ValueError:
                self.non_json.append(line)
                continue
            if not isinstance(event, dict):
                self.non_json.append(line)
                continue
            self.events.append(event)
            self._queue.put(event)
        self._queue.put(None)

    def describe(self) -> str:
        self._stderr.flush()
        names = [e.get("event") for e in self.events]
        stderr = self.stderr_path.read_text(errors="replace")[-2000:]
        return f"events so far: {names}\nstderr: {stderr}\nnon-JSON stdout: {self.non_json}"

    def wait_for(self, name: str, deadline: float = READY_DEADLINE) -> Event:
        """The next event called `name`; fails on a deadline or if stdout ends first."""
        end = time.monotonic() + deadline
        while True:
            left = end - time.monotonic()
            if left <= 0:
                pytest.fail(f"no {name} within {deadline} s\n{self.describe()}")
            try:
                event = self._queue.get(timeout=left)
            except queue.Empty:
                continue
            if event is None:
                self._queue.put(None)
                pytest.fail(
                    f"agentsup ended (exit {self.proc.poll()}) before {name}\n{self.describe()}"
                )
            if event.get("event") == name:
                return event
            if event.get("event") in {"job.failed", "agent.failed"} and name != event["event"]:
                pytest.fail(f"{event['event']} while waiting for {name}: {event}")

    def named(self, name: str) -> list[Event]:
        return [e for e in self.events if e.get("event") == name]

    def agent_pids(self) -> dict[str, int]:
        return {e["agent"]: int(e["pid"]) for e in self.named("agent.started")}

    def urls(self) -> dict[str, str]:
        return {e["agent"]: e["url"] for e in self.named("agent.ready")}

    def terminate(self) -> int:
        """SIGTERM agentsup and return its exit code, once its stdout has ended."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=STOP_DEADLINE)
        except subprocess.TimeoutExpired:
            pytest.fail(
                f"agentsup still running {STOP_DEADLINE} s after SIGTERM\n{self.describe()}"
            )
        self._reader.join(timeout=5)
        return code

    def cleanup(self) -> None:
        """Whatever happened, leave no process behind."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        for pid in self.agent_pids().values():
            if _alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)  # each agent leads its own group
        self._reader.join(timeout=5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self._stderr.close()


@pytest.fixture
def start_job(tmp_path: Path) -> Iterator[Any]:
    jobs: list[RunningJob] = []

    def start(name: str) -> RunningJob:
        job = RunningJob(EXAMPLES / f"{name}.yaml", tmp_path / f"{name}.stderr")
        jobs.append(job)
        job.wait_for("job.ready")
        return job

    try:
        yield start
    finally:
        for job in jobs:
            job.cleanup()


def assert_stops_cleanly(job: RunningJob) -> None:
    pids = job.agent_pids()
    assert pids, "no agent.started events"
    code = job.terminate()
    assert code == 0, job.describe()
    assert job.named("job.stopped"), job.describe()
    assert not job.non_json, f"stdout lines that are not JSON events: {job.non_json}"
    end = time.monotonic() + 5
    while any(_alive(pid) for pid in pids.values()) and time.monotonic() < end:
        time.sleep(0.05)
    left = {agent: pid for agent, pid in pids.items() if _alive(pid)}
    assert not left, f"agents still running after agentsup exited: {left}"
    stopped = {e["agent"]: e.get("exit_code") for e in job.named("agent.stopped")}
    assert stopped == dict.fromkeys(pids, 0), stopped


@pytest.mark.timeout(60)
@pytest.mark.parametrize("name", EXAMPLE_FILES)
def test_example_validates(name: str) -> None:
    result = subprocess.run(
        ["agentsup", "validate", f"examples/{name}.yaml"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.timeout(60)
def test_hub_spoke_controller_combines_both_spokes(start_job: Any) -> None:
    job = start_job("hub-spoke")
    plan = job.named("plan.resolved")[0]
    assert plan["stages"] == [["weather", "maps"], ["controller"]]
    urls = job.urls()

    answer = http(f"{urls['controller']}/ask?city=Paris")

    assert answer["city"] == "Paris"
    assert answer["answered_by"] == "controller"
    assert answer["weather"] == http(f"{urls['weather']}/weather?city=Paris")
    assert answer["weather"]["answered_by"] == "weather"
    assert answer["route"] == http(f"{urls['maps']}/route?city=Paris")
    assert answer["route"]["answered_by"] == "maps"
    assert answer["route"]["from"] == "Amsterdam"  # config.origin, told as AGENT_ORIGIN
    logged = [e["payload"] for e in job.named("agent.output") if "payload" in e]
    assert {"msg": "listening", "id": "weather", "port": 8102, "peers": {}} in logged
    assert_stops_cleanly(job)


@pytest.mark.timeout(60)
def test_pipeline_passes_a_record_through_every_stage(start_job: Any) -> None:
    job = start_job("pipeline")
    urls = job.urls()

    record = http(f"{urls['parse']}/record", {"text": "hello agent world"})

    assert record["path"] == ["parse", "enrich", "store"]
    assert record["words"] == ["hello", "agent", "world"]
    assert record["word_count"] == 3
    stored = http(f"{urls['store']}/records")["records"]
    assert [r["path"] for r in stored] == [["parse", "enrich", "store"]]
    assert_stops_cleanly(job)


@pytest.mark.timeout(60)
def test_dag_fans_out_to_both_processors_and_in_to_output(start_job: Any) -> None:
    job = start_job("dag")
    assert job.named("plan.resolved")[0]["stages"] == [
        ["output"],
        ["processor1", "processor2"],
        ["ingest"],
    ]
    urls = job.urls()

    sent = http(f"{urls['ingest']}/ingest", {"id": "item-1", "text": "fan out"})

    assert sorted(sent["sent_to"]) == ["processor1", "processor2"]
    results = http(f"{urls['output']}/results?item=item-1")["results"]
    by_processor = {r["processed_by"]: r["result"] for r in results}
    assert by_processor == {"processor1": "FAN OUT", "processor2": "tuo naf"}
    assert_stops_cleanly(job)
