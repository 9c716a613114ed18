"""Running the real `agentsup` CLI as a subprocess and reading its event stream."""

from __future__ import annotations

import json
import os
import queue
import resource
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import yaml

from agentsup.ports import free_ports as free_ports  # re-exported for the test modules

TEST_AGENT = Path(__file__).parent / "agents" / "testagent.py"
Event = dict[str, Any]


def agentsup_command(*args: str) -> list[str]:
    return [sys.executable, "-c", "import sys; from agentsup.cli import main; sys.exit(main())",
            *args]


def write_job(directory: Path, text: str, name: str = "job.yaml") -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text))
    return path


def agent_entry(agent_id: str, port: int, restart: dict[str, Any] | None = None,
               **env: Any) -> dict[str, Any]:
    """A job-file agent entry running `agents/testagent.py`, configured by `env`."""
    spec: dict[str, Any] = {
        "id": agent_id,
        "command": [sys.executable, str(TEST_AGENT)],
        "config": {"port": port},
    }
    if env:
        spec["deployment"] = {"environment": {k: str(v) for k, v in env.items()}}
    if restart is not None:
        spec["restart"] = restart
    return spec


def write_job_document(
    directory: Path,
    agents: list[dict[str, Any]],
    topology: dict[str, Any],
    *,
    name: str = "t",
    interval: float = 1.0,
    **deployment: Any,
) -> Path:
    """Write a job file from agent entries; `deployment` fields override the defaults."""
    document = {
        "job": {"name": name},
        "deployment": {
            "timeout": 15,
            "stop_timeout": 3,
            "health_check": {"interval": interval, "retries": 2, "timeout": 1},
            **deployment,
        },
        "agents": agents,
        "topology": topology,
    }
    path = directory / "job.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def pid_alive(pid: int) -> bool:
    """True while a process exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            state = handle.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state != "Z"


def wait_gone(pids: list[int], timeout: float) -> list[int]:
    """Wait until none of `pids` is alive; return those still alive at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        alive = [p for p in pids if pid_alive(p)]
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.05)


class Supervisor:
    """A running `agentsup start`, with its events collected as they arrive."""

    def __init__(self, job: Path, *extra: str, env: dict[str, str] | None = None,
                 open_files: tuple[int, int] | None = None,
                 prefix: tuple[str, ...] = ()) -> None:
        """`open_files`: the (soft, hard) RLIMIT_NOFILE the CLI starts with; `prefix`: a
        program that runs the CLI (`nohup`)."""

        def limit() -> None:
            if open_files is not None:
                resource.setrlimit(resource.RLIMIT_NOFILE, open_files)

        self.process = subprocess.Popen(
            [*prefix, *agentsup_command("start", str(job), "--log-format", "json", *extra)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
            env={**os.environ, **(env or {})},
            preexec_fn=limit if open_files is not None else None,
        )
        self.events: list[Event] = []
        self.raw_lines: list[str] = []
        self._queue: queue.Queue[Event | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.stderr = ""

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.raw_lines.append(line)
            try:
                event = json.loads(line)
            except ValueError:
                event = {"event": "<not json>", "line": line}
            self.events.append(event)
            self._queue.put(event)
        self._queue.put(None)

    def wait_for(
        self,
        name: str,
        timeout: float = 30.0,
        where: Callable[[Event], bool] = lambda _: True,
        after: int = 0,
    ) -> Event:
        """The first event named `name` (at index >= `after`) matching `where`."""
        deadline = time.monotonic() + timeout
        index = after
        while True:
            while index < len(self.events):
                event = self.events[index]
                index += 1
                if event.get("event") == name and where(event):
                    return event
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(
                    f"no {name!r} event within {timeout} s; events so far:\n"
                    + "\n".join(json.dumps(e) for e in self.events[-40:])
                )
            try:
                item = self._queue.get(timeout=min(remaining, 0.2))
            except queue.Empty:
                continue
            if item is None and index >= len(self.events):
                raise AssertionError(
                    f"agentsup exited ({self.process.poll()}) before {name!r}; events:\n"
                    + "\n".join(json.dumps(e) for e in self.events[-40:])
                    + f"\nstderr:\n{self.stderr_text()}"
                )

    def named(self, name: str) -> list[Event]:
        return [e for e in self.events if e.get("event") == name]

    def index_of(self, name: str, where: Callable[[Event], bool] = lambda _: True) -> int:
        for index, event in enumerate(self.events):
            if event.get("event") == name and where(event):
                return index
        raise AssertionError(f"no {name!r} event")

    def agent_pids(self) -> list[int]:
        pids = [int(e["pid"]) for e in self.named("agent.started")]
        for event in self.named("agent.output"):
            payload = event.get("payload") or {}
            if payload.get("kind") == "grandchild":
                pids.append(int(payload["pid"]))
        return pids

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def wait(self, timeout: float = 30.0) -> int:
        code = self.process.wait(timeout=timeout)
        self._reader.join(timeout=5)
        return code

    def stderr_text(self) -> str:
        if self.process.poll() is None or self.process.stderr is None:
            return self.stderr
        if not self.stderr:
            self.stderr = self.process.stderr.read()
        return self.stderr

    def kill(self) -> None:
        if self.process.poll() is None:
            with suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


@contextmanager
def supervisor(job: Path, *extra: str, env: dict[str, str] | None = None,
               open_files: tuple[int, int] | None = None,
               prefix: tuple[str, ...] = ()) -> Iterator[Supervisor]:
    """Start `agentsup start JOB`; on the way out, leave nothing running."""
    running = Supervisor(job, *extra, env=env, open_files=open_files, prefix=prefix)
    try:
        yield running
    finally:
        pids = running.agent_pids()
        running.kill()
        for pid in wait_gone(pids, 5.0):
            with suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
