"""Benchmark 6: the same N agents under agentsup, supervisord and honcho.

supervisord and honcho are installed from PyPI into bench/.venv, which this module creates
on first use, together with agentsup's own dependencies: the benchmark runs agentsup
there too (from this checkout), so that every tool starts as a user's would, from an
environment that holds what it needs and nothing else. For each tool: the time from
spawning the tool to every agent's port accepting connections, the tool's idle CPU,
and SIGTERM to exit. Neither tool checks health; agentsup checks every agent every 5 s
while it idles.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import time
import tomllib
import venv
from dataclasses import dataclass
from pathlib import Path

from agentsup.ports import free_ports
from bench.common import (
    AGENT,
    LIBRARIES,
    ROOT,
    RUN_TAG_VAR,
    Agentsup,
    bare_program_seconds,
    idle_cpu_percent,
    kill_tagged,
    new_tag,
    status_kb,
    wait_ports,
    write_job,
)

VENV = Path(__file__).resolve().parent / ".venv"
TOOLS = ("supervisor", "honcho")


def ensure_venv() -> Path:
    """bench/.venv with supervisord, honcho and agentsup's dependencies (the versions
    pyproject.toml asks for); returns its bin directory.

    agentsup itself is not installed there: its CLI runs with cwd at the checkout and
    imports the code under test from it. An editable install would add a path hook to
    every interpreter start of the environment (12 ms here), which an installed wheel
    does not have.
    """
    bin_dir = VENV / "bin"
    wanted = [*TOOLS, *_dependencies()]
    stamp = VENV / "agentsup-bench-requirements.txt"
    text = "\n".join(wanted) + "\n"
    if not stamp.exists() or stamp.read_text() != text:
        if not (bin_dir / "python").exists():
            venv.create(VENV, with_pip=True)
        subprocess.run(
            [str(bin_dir / "python"), "-m", "pip", "install", "-q", *wanted],
            check=True,
        )
        stamp.write_text(text)
    return bin_dir


def _dependencies() -> list[str]:
    with (ROOT / "pyproject.toml").open("rb") as handle:
        project = tomllib.load(handle)["project"]
    return list(project["dependencies"])


@dataclass(frozen=True)
class ToolResult:
    tool: str
    start_seconds: float
    idle_cpu: list[float]
    rss_mb: float
    stop_seconds: float


def _measure(
    tool: str, process: subprocess.Popen[bytes], started: float, ports: list[int],
    window: float, windows: int,
) -> ToolResult:
    ready = wait_ports(ports, timeout=120)
    time.sleep(1.0)
    cpu = idle_cpu_percent(process.pid, window, windows)
    rss = status_kb(process.pid, "VmHWM") / 1024
    begin = time.monotonic()
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=60)
    return ToolResult(tool, ready - started, cpu, rss, time.monotonic() - begin)


def _supervisord(
    bin_dir: Path, workdir: Path, ports: list[int], tag: str, window: float, windows: int
) -> ToolResult:
    lines = [
        "[supervisord]",
        "nodaemon=true",
        f"logfile={workdir / 'supervisord.log'}",
        f"pidfile={workdir / 'supervisord.pid'}",
        f"childlogdir={workdir}",
        "",
    ]
    for i, port in enumerate(ports):
        lines += [
            f"[program:a{i}]",
            f"command={sys.executable} -S {AGENT}",
            f'environment=AGENT_PORT="{port}",{RUN_TAG_VAR}="{tag}"',
            "autorestart=true",
            "startsecs=0",
            "stopwaitsecs=3",
            "stdout_logfile=NONE",
            "stderr_logfile=NONE",
            "",
        ]
    conf = workdir / f"supervisord-{tag}.conf"
    conf.write_text("\n".join(lines))
    started = time.time()
    process = subprocess.Popen(
        [str(bin_dir / "supervisord"), "-c", str(conf)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    try:
        return _measure("supervisord", process, started, ports, window, windows)
    finally:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        process.wait()
        kill_tagged(tag)


def _honcho(
    bin_dir: Path, workdir: Path, ports: list[int], tag: str, window: float, windows: int
) -> ToolResult:
    procfile = workdir / f"Procfile-{tag}"
    procfile.write_text(
        "".join(
            f"a{i}: AGENT_PORT={port} {RUN_TAG_VAR}={tag} exec {sys.executable} -S {AGENT}\n"
            for i, port in enumerate(ports)
        )
    )
    started = time.time()
    process = subprocess.Popen(
        [str(bin_dir / "honcho"), "-f", str(procfile), "-d", str(workdir), "start"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    try:
        return _measure("honcho", process, started, ports, window, windows)
    finally:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        process.wait()
        kill_tagged(tag)


def _agentsup(workdir: Path, ports: list[int], tag: str, window: float, windows: int
              ) -> ToolResult:
    ids = [f"a{i}" for i in range(len(ports))]
    job = write_job(workdir, f"side-{tag}", [(a, p, {}) for a, p in zip(ids, ports, strict=True)],
                    {"type": "mesh", "agents": ids}, tag, interval=5.0)
    run = Agentsup(job)
    try:
        ready = wait_ports(ports, timeout=120)
        run.wait_for("job.ready", timeout=120)
        time.sleep(1.0)
        cpu = idle_cpu_percent(run.pid, window, windows)
        rss = status_kb(run.pid, "VmHWM") / 1024
        stop = run.stop()
        return ToolResult("agentsup", ready - run.launched_at, cpu, rss, stop)
    finally:
        run.kill()
        kill_tagged(tag)


FLOOR = "floor"
"""The bare program importing agentsup's libraries first, all agents at once: what those
libraries alone leave of a start-up race against the other tools."""


def _floor(workdir: Path, ports: list[int], tag: str) -> ToolResult:
    # The program's clean-up ends the tagged agents, however the run ends.
    seconds = bare_program_seconds(workdir, tag, [[(port, {}) for port in ports]], LIBRARIES)
    nan = float("nan")
    return ToolResult(FLOOR, seconds, [], nan, nan)


def side_by_side(
    workdir: Path, agents: int, runs: int, window: float, windows: int
) -> list[ToolResult]:
    """Every tool `runs` times, interleaved, on `agents` agents each."""
    bin_dir = ensure_venv()
    results: list[ToolResult] = []
    for _ in range(runs):
        for tool in ("agentsup", "supervisord", "honcho", FLOOR):
            tag = new_tag()
            ports = free_ports(agents)
            if tool == "agentsup":
                results.append(_agentsup(workdir, ports, tag, window, windows))
            elif tool == FLOOR:
                results.append(_floor(workdir, ports, tag))
            elif tool == "supervisord":
                results.append(_supervisord(bin_dir, workdir, ports, tag, window, windows))
            else:
                results.append(_honcho(bin_dir, workdir, ports, tag, window, windows))
    return results
