"""Shared pieces: statistics, ports, /proc readers, job files, and running `agentsup start`."""

from __future__ import annotations

import compileall
import contextlib
import json
import os
import queue
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import yaml

ROOT = Path(__file__).resolve().parent.parent
AGENT = Path(__file__).resolve().parent / "agent.py"
BARE = Path(__file__).resolve().parent / "bare.py"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
CLI_MAIN = "import sys; from agentsup.cli import main; sys.exit(main())"
"""How the benchmarks spawn the CLI: the interpreter, not a shell wrapper around it."""
LIBRARIES = ("yaml", "pydantic", "pykka")
"""The libraries `agentsup start` cannot do without before its first agent spawn. The
bare program importing them first (`BareProgram(imports=LIBRARIES)`) is the floor they
set: what no change to agentsup's own code can go below."""
_interpreter = [sys.executable]


def interpreter() -> str:
    """The Python that the timed programs start with: agentsup's CLI, the bare launcher
    program and `validate`'s reference. `python -m bench` points it at bench/.venv's
    (`use_interpreter`), where honcho and supervisord run too; the agents always run
    with the benchmark's own, as `python -S`."""
    return _interpreter[0]


def use_interpreter(path: str) -> None:
    _interpreter[0] = path


def prepare_agentsup(example: Path) -> None:
    """Get agentsup ready to be timed as an installed copy would run, with the chosen
    interpreter.

    - Its bytecode is written once, as installing a wheel does: an editable checkout has
      none, and with PYTHONDONTWRITEBYTECODE set (as on some machines) every CLI spawn
      would compile the package again, a cost the references' compiled site-packages
      never pay.
    - One `validate` runs first: under a pydantic-core other than the one
      records_schema.py was written for, agentsup's first run makes the schema and keeps
      it in the user's cache (agentsup/job/schema_cache.py); the timed runs read it, as a
      user's later runs do.
    """
    import agentsup

    compileall.compile_dir(str(Path(agentsup.__file__).resolve().parent), quiet=1)
    subprocess.run([interpreter(), "-c", CLI_MAIN, "validate", str(example)],
                   cwd=ROOT, check=True, stdout=subprocess.DEVNULL)


RUN_TAG_VAR = "AGENTSUP_BENCH_RUN"
"""Every benchmark agent carries this variable, so leftovers can be found and killed."""

Event = dict[str, Any]


# ---------------------------------------------------------------------- statistics


@dataclass(frozen=True)
class Summary:
    median: float
    low: float
    high: float
    count: int

    def render(self, unit: str = "", digits: int = 2) -> str:
        if self.count == 0:
            return "n/a"
        if self.count == 1:
            return f"{self.median:.{digits}f}{unit} (n=1)"
        return (
            f"{self.median:.{digits}f}{unit} "
            f"[{self.low:.{digits}f}-{self.high:.{digits}f}, n={self.count}]"
        )


def summarise(values: Iterable[float]) -> Summary:
    data = sorted(v for v in values if v == v)  # drop NaN
    if not data:
        return Summary(float("nan"), float("nan"), float("nan"), 0)
    return Summary(statistics.median(data), data[0], data[-1], len(data))


# ---------------------------------------------------------------------- ports and /proc


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_ports(ports: Sequence[int], timeout: float, poll: float = 0.005) -> float:
    """Poll until every port accepts a connection; the time.time() when the last one did."""
    pending = set(ports)
    deadline = time.monotonic() + timeout
    while pending:
        for port in list(pending):
            if port_open(port):
                pending.discard(port)
        if not pending:
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(pending)} of {len(ports)} ports never opened")
        time.sleep(poll)
    return time.time()


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads), in seconds."""
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def status_kb(pid: int, key: str) -> int:
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def idle_cpu_percent(pid: int, seconds: float, windows: int) -> list[float]:
    """CPU use of `pid` as % of one core, over `windows` consecutive windows."""
    results: list[float] = []
    for _ in range(windows):
        start_cpu, start = cpu_seconds(pid), time.monotonic()
        time.sleep(seconds)
        results.append(100.0 * (cpu_seconds(pid) - start_cpu) / (time.monotonic() - start))
    return results


def tagged_pids(tag: str) -> list[int]:
    """Live processes whose environment carries RUN_TAG_VAR=tag."""
    needle = f"{RUN_TAG_VAR}={tag}".encode()
    found: list[int] = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as handle:
                if needle in handle.read().split(b"\0"):
                    found.append(int(entry))
        except OSError:
            continue
    return found


def kill_tagged(tag: str) -> None:
    for pid in tagged_pids(tag):
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


def new_tag() -> str:
    return uuid.uuid4().hex[:12]


def agent_command() -> list[str]:
    return [sys.executable, "-S", str(AGENT)]


def agent_env(tag: str, port: int, **extra: str) -> dict[str, str]:
    return {**os.environ, RUN_TAG_VAR: tag, "AGENT_PORT": str(port), **extra}


def event_time(event: Event) -> float:
    """When an event happened, in seconds since the epoch, to the microsecond.

    `timestamp` has whole seconds only; the run's start (`started` of `job.loaded`) plus
    the event's `elapsed` is exact. `Agentsup` notes that sum as `_at` on every event.
    """
    if "_at" in event:
        return float(event["_at"])
    return _epoch(str(event["timestamp"]))


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


# ---------------------------------------------------------------------- job files


def write_job(
    directory: Path,
    name: str,
    agents: Sequence[tuple[str, int, dict[str, str]]],
    topology: dict[str, Any],
    tag: str,
    *,
    interval: float = 5.0,
    timeout: float = 60.0,
    restart: dict[str, Any] | None = None,
) -> Path:
    """A job file with one benchmark agent per (id, port, environment) entry."""
    deployment: dict[str, Any] = {
        "timeout": timeout,
        "stop_timeout": 3,
        "health_check": {"interval": interval, "retries": 3, "timeout": 2, "path": "/health"},
    }
    if restart is not None:
        deployment["restart"] = restart
    document = {
        "job": {"name": name},
        "environment": {RUN_TAG_VAR: tag},
        "deployment": deployment,
        "agents": [
            {
                "id": agent_id,
                "command": agent_command(),
                "config": {"port": port},
                **({"deployment": {"environment": env}} if env else {}),
            }
            for agent_id, port, env in agents
        ],
        "topology": topology,
    }
    path = directory / f"{name}.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


# ---------------------------------------------------------------------- agentsup start


@dataclass
class Agentsup:
    """A running `agentsup start`, its events collected by a reader thread.

    `agent.output` lines are kept raw and parsed only on demand, stdout is read in large
    chunks, and a waiting `wait_for` is woken once per chunk that has other events, not
    once per event nor for output alone, so that the reader keeps up with a fast writer
    without taking CPU from the supervisor: while 200 agents boot, the bench's own CPU
    competes with everything timed (an event's time is its own `elapsed`, not when the
    bench read it), and an agent's burst of output arrives while `wait_for` waits for
    `job.ready`.
    """

    job: Path
    process: subprocess.Popen[bytes] = field(init=False)
    launched_at: float = field(init=False)
    events: list[Event] = field(init=False, default_factory=list)
    output_lines: list[bytes] = field(init=False, default_factory=list)
    _queue: queue.SimpleQueue[bool] = field(init=False, default_factory=queue.SimpleQueue)
    """One item per chunk read with events in it (True), and at the end (False)."""
    _started: float | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.launched_at = time.time()
        self.process = subprocess.Popen(
            [interpreter(), "-c", CLI_MAIN, "start", str(self.job), "--log-format", "json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            cwd=ROOT,
            start_new_session=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    @property
    def pid(self) -> int:
        return self.process.pid

    def _read(self) -> None:
        assert self.process.stdout is not None
        fd = self.process.stdout.fileno()
        marker = b'"event":"agent.output"'
        rest = b""
        while chunk := os.read(fd, 1 << 20):
            lines = (rest + chunk).split(b"\n")
            rest = lines.pop()
            self.output_lines.extend([line for line in lines if marker in line])
            events = [line for line in lines if marker not in line]
            for line in events:
                self._event(line)
            if events:  # output alone wakes nobody: a burst of it is thousands of reads
                self._queue.put(True)
        if rest:
            self._event(rest)
        self._queue.put(False)

    def _event(self, line: bytes) -> None:
        try:
            event: Event = orjson.loads(line)
        except orjson.JSONDecodeError:
            return
        if event.get("event") == "job.loaded" and "started" in event:
            self._started = _epoch(str(event["started"]))
        self._timed(event)
        self.events.append(event)

    def wait_for(
        self, name: str, timeout: float = 60.0, where: Callable[[Event], bool] = lambda _: True
    ) -> Event:
        """The first event (not agent.output) named `name` matching `where`."""
        deadline = time.monotonic() + timeout
        seen = 0
        while True:
            while seen < len(self.events):
                event = self.events[seen]
                seen += 1
                if event.get("event") == name and where(event):
                    return event
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no {name} event within {timeout} s")
            try:
                more = self._queue.get(timeout=min(remaining, 0.1))
            except queue.Empty:
                continue
            if not more:
                self._queue.put(False)  # the end stays, for the next look and wait
                if seen >= len(self.events):
                    raise RuntimeError(
                        f"agentsup exited ({self.process.poll()}) before {name}")

    def named(self, name: str) -> list[Event]:
        return [e for e in self.events if e.get("event") == name]

    def outputs(self) -> list[Event]:
        events = [json.loads(line) for line in self.output_lines]
        for event in events:
            self._timed(event)
        return events

    def _timed(self, event: Event) -> None:
        if self._started is not None and "elapsed" in event:
            event["_at"] = self._started + float(event["elapsed"])

    def stop(self, timeout: float = 30.0) -> float:
        """SIGTERM; seconds until the supervisor exited."""
        start = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=timeout)
        elapsed = time.monotonic() - start
        self._reader.join(timeout=10)
        return elapsed

    def kill(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


# ---------------------------------------------------------------------- the bare launcher


class BareLauncher:
    """The limit: start each stage's processes at once, poll their ports every 5 ms."""

    def __init__(self, tag: str) -> None:
        self.tag = tag
        self.processes: list[subprocess.Popen[bytes]] = []

    def run_stages(
        self, stages: Sequence[Sequence[tuple[int, dict[str, str]]]], timeout: float = 60.0
    ) -> tuple[float, float]:
        """(time of the first spawn, time the last port opened), both time.time()."""
        start = time.time()
        end = start
        for stage in stages:
            for port, env in stage:
                self.processes.append(
                    subprocess.Popen(
                        agent_command(),
                        env=agent_env(self.tag, port, **env),
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                        start_new_session=True,
                    )
                )
            end = wait_ports([port for port, _ in stage], timeout)
        return start, end

    def close(self) -> None:
        for process in self.processes:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        kill_tagged(self.tag)


class BareProgram:
    """The bare launcher run as its own program (bench/bare.py), timed from its spawn.

    The CLI is timed from its spawn, so interpreter start and imports count for it; this
    reference pays its own interpreter start and imports the same way.
    """

    def __init__(self, tag: str, workdir: Path, imports: Sequence[str] = ()) -> None:
        self.tag = tag
        self.workdir = workdir
        self.imports = imports
        self.process: subprocess.Popen[str] | None = None

    def run_stages(
        self, stages: Sequence[Sequence[tuple[int, dict[str, str]]]], timeout: float = 60.0
    ) -> tuple[float, float, float]:
        """(time of its spawn, time of its first agent spawn, time the last port opened)."""
        spec = self.workdir / f"bare-{self.tag}.json"
        spec.write_text(json.dumps({
            "command": agent_command(),
            "timeout": timeout,
            "stages": [[[port, {RUN_TAG_VAR: self.tag, "AGENT_PORT": str(port), **env}]
                        for port, env in stage] for stage in stages],
        }))
        launched = time.time()
        self.process = subprocess.Popen(
            [interpreter(), str(BARE), str(spec)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT,
            env={**os.environ, "BARE_IMPORTS": ",".join(self.imports)},
            start_new_session=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"bare launcher exited ({self.process.wait()}) before the ports")
        times = json.loads(line)
        return launched, float(times["first_spawn"]), float(times["last_open"])

    def close(self) -> None:
        if self.process is not None:
            with contextlib.suppress(OSError):
                assert self.process.stdin is not None
                self.process.stdin.close()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        kill_tagged(self.tag)


def bare_program_seconds(workdir: Path, tag: str,
                         stages: Sequence[Sequence[tuple[int, dict[str, str]]]],
                         imports: Sequence[str] = ()) -> float:
    """One run of the bare program: from its spawn to the last port open."""
    program = BareProgram(tag, workdir, imports)
    try:
        launched, _, last_open = program.run_stages(stages)
    finally:
        program.close()
    return last_open - launched
