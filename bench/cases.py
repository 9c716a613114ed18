"""Benchmarks 1-5: agentsup against the limit, each figure measured within one run."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from agentsup.ports import free_ports
from bench.common import (
    CLI_MAIN,
    LIBRARIES,
    ROOT,
    Agentsup,
    BareLauncher,
    Event,
    Summary,
    agent_command,
    agent_env,
    bare_program_seconds,
    event_time,
    idle_cpu_percent,
    interpreter,
    kill_tagged,
    new_tag,
    status_kb,
    summarise,
    tagged_pids,
    write_job,
)


@dataclass(frozen=True)
class Row:
    bench: str
    metric: str
    value: str
    target: str = ""
    met: bool | None = None

    @property
    def verdict(self) -> str:
        return "" if self.met is None else ("yes" if self.met else "NO")


def _check(summary: Summary, limit: float, *, at_most: bool = True) -> bool | None:
    if summary.count == 0:
        return None
    return summary.median <= limit if at_most else summary.median >= limit


def _listening_times(run: Agentsup) -> dict[tuple[str, int], float]:
    """(agent, nth listening line) -> the time the agent printed when it began listening."""
    times: dict[tuple[str, int], float] = {}
    counts: dict[str, int] = {}
    for event in run.outputs():
        payload = event.get("payload")
        if isinstance(payload, dict) and "listening" in payload:
            agent = str(event["agent"])
            counts[agent] = counts.get(agent, 0) + 1
            times[(agent, counts[agent])] = float(payload["listening"])
    return times


def readiness_latencies(run: Agentsup) -> list[float]:
    """Milliseconds from each agent listening to its `agent.ready` event."""
    listening = _listening_times(run)
    latencies: list[float] = []
    for event in run.named("agent.ready"):
        key = (str(event["agent"]), int(event.get("run", 1)))
        if key in listening:
            latencies.append(1000.0 * (event_time(event) - listening[key]))
    return latencies


# ---------------------------------------------------------------------- 1 and 2


@dataclass(frozen=True)
class StagedResult:
    ratios: list[float]
    program_ratios: list[float]
    agentsup_seconds: list[float]
    bare_seconds: list[float]
    program_seconds: list[float]
    floor_seconds: list[float]
    cli_seconds: list[float]
    latencies_ms: list[float]


@dataclass(frozen=True)
class StagedOnce:
    bare: float
    """The in-process bare launcher, from its first agent spawn to the last port open."""
    program: float
    """The bare launcher as a program (bench/bare.py), from its spawn to the last port open."""
    floor: float
    """The same program importing agentsup's libraries first (`LIBRARIES`)."""
    stages: float
    """agentsup, from the first `stage.started` to `job.ready`."""
    cli: float
    """agentsup, from spawning the CLI to `job.ready`."""
    latencies_ms: list[float]


def staged_once(workdir: Path, stages: int, per_stage: int, delay: float) -> StagedOnce:
    """One launch of the same pipeline by each: bare in-process, bare program, agentsup."""
    tag = new_tag()
    ports = free_ports(stages * per_stage)
    env = {"LISTEN_DELAY": str(delay)}
    ids = [[f"s{s}a{a}" for a in range(per_stage)] for s in range(stages)]
    port_of = {agent_id: ports[i] for i, agent_id in enumerate(x for st in ids for x in st)}

    # A pipeline starts its last stage first: the bare launchers do the same.
    bare_stages = [[(port_of[a], env) for a in stage] for stage in reversed(ids)]
    launcher = BareLauncher(tag)
    try:
        bare_start, bare_end = launcher.run_stages(bare_stages)
    finally:
        launcher.close()
    program_seconds = bare_program_seconds(workdir, tag, bare_stages)
    floor_seconds = bare_program_seconds(workdir, tag, bare_stages, LIBRARIES)

    job = write_job(
        workdir,
        f"staged-{tag}",
        [(a, port_of[a], env) for stage in ids for a in stage],
        {"type": "pipeline", "stages": ids},
        tag,
    )
    run = Agentsup(job)
    try:
        ready = run.wait_for("job.ready", timeout=60)
        first = run.wait_for("stage.started")
        run.stop()
    finally:
        run.kill()
        kill_tagged(tag)
    ready_at = event_time(ready)
    return StagedOnce(
        bare=bare_end - bare_start,
        program=program_seconds,
        floor=floor_seconds,
        stages=ready_at - event_time(first),
        cli=ready_at - run.launched_at,
        latencies_ms=readiness_latencies(run),
    )


def staged_startup(workdir: Path, runs: int) -> StagedResult:
    result = StagedResult([], [], [], [], [], [], [], [])
    for _ in range(runs):
        once = staged_once(workdir, 4, 8, 0.3)
        result.ratios.append(once.cli / once.bare)
        result.program_ratios.append(once.cli / once.program)
        result.agentsup_seconds.append(once.stages)
        result.bare_seconds.append(once.bare)
        result.program_seconds.append(once.program)
        result.floor_seconds.append(once.floor)
        result.cli_seconds.append(once.cli)
        result.latencies_ms.extend(once.latencies_ms)
    return result


def staged_rows(result: StagedResult) -> list[Row]:
    ratio = summarise(result.ratios)
    program_ratio = summarise(result.program_ratios)
    latency = summarise(result.latencies_ms)
    return [
        Row("1 staged start-up", "agentsup 4x8: CLI spawn -> job.ready (s)",
            summarise(result.cli_seconds).render(" s")),
        Row("1 staged start-up", "bare program (bench/bare.py): its spawn -> last port open (s)",
            summarise(result.program_seconds).render(" s")),
        Row("1 staged start-up", "ratio agentsup / bare program, both from their spawn",
            program_ratio.render(), "<= 1.10", _check(program_ratio, 1.10)),
        Row("1 staged start-up", f"floor: bare program importing {', '.join(LIBRARIES)} "
            "first, / bare program", summarise(
                a / b for a, b in zip(result.floor_seconds, result.program_seconds, strict=True)
            ).render()),
        Row("1 staged start-up", "bare launcher in the bench: first spawn -> last port open (s)",
            summarise(result.bare_seconds).render(" s")),
        Row("1 staged start-up", "ratio agentsup (from CLI spawn) / bare in the bench",
            ratio.render()),
        Row("1 staged start-up", "of which stage.started -> job.ready (s)",
            summarise(result.agentsup_seconds).render(" s")),
        Row("2 readiness latency", "listening -> agent.ready (ms), 32 agents x runs",
            latency.render(" ms", 1), "<= 30 ms", _check(latency, 30.0)),
        Row("2 readiness latency", "p90 (ms)", f"{_percentile(result.latencies_ms, 0.9):.1f} ms"),
    ]


def _percentile(values: Sequence[float], q: float) -> float:
    data = sorted(values)
    if not data:
        return float("nan")
    return data[min(len(data) - 1, int(q * len(data)))]


# ---------------------------------------------------------------------- 3 scale


@dataclass(frozen=True)
class ScaleResult:
    agents: int
    topology: str
    load_seconds: list[float]
    ready_seconds: list[float]
    bare_seconds: list[float]
    program_seconds: list[float]
    rss_mb: list[float]
    idle_cpu: list[float]
    stop_seconds: list[float]
    agent_rss_mb: list[float]
    latencies_ms: list[float]


def scale(
    workdir: Path, agents: int, runs: int, window: float, windows: int, topology: str = "mesh"
) -> ScaleResult:
    ready: list[float] = []
    bare: list[float] = []
    program: list[float] = []
    rss: list[float] = []
    cpu: list[float] = []
    stops: list[float] = []
    agent_rss: list[float] = []
    latencies: list[float] = []
    loading: list[float] = []
    for _ in range(runs):
        tag = new_tag()
        ports = free_ports(agents)
        launcher = BareLauncher(tag)
        try:
            start, end = launcher.run_stages([[(p, {}) for p in ports]])
            bare.append(end - start)
        finally:
            launcher.close()
        program.append(bare_program_seconds(workdir, tag, [[(p, {}) for p in ports]]))
        ids = [f"m{i:03d}" for i in range(agents)]
        job = write_job(
            workdir, f"mesh-{tag}", [(a, p, {}) for a, p in zip(ids, ports, strict=True)],
            {"type": topology, **({"agents": ids} if topology == "mesh" else {})}, tag,
            interval=5.0,
        )
        run = Agentsup(job)
        try:
            loading.append(event_time(run.wait_for("stage.started", timeout=300)) - run.launched_at)
            done = run.wait_for("job.ready", timeout=120)
            ready.append(event_time(done) - run.launched_at)
            time.sleep(1.0)  # let start-up work drain
            cpu.extend(idle_cpu_percent(run.pid, window, windows))
            rss.append(status_kb(run.pid, "VmHWM") / 1024)
            agent_rss.append(sum(status_kb(p, "VmRSS") for p in tagged_pids(tag)) / 1024)
            stops.append(run.stop())
        finally:
            run.kill()
            kill_tagged(tag)
        latencies.extend(readiness_latencies(run))
    return ScaleResult(agents, topology, loading, ready, bare, program, rss, cpu, stops, agent_rss,
                       latencies)


def scale_rows(result: ScaleResult) -> list[Row]:
    n = result.agents
    ratios = [a / b for a, b in zip(result.ready_seconds, result.bare_seconds, strict=True)]
    program_ratios = summarise(
        a / b for a, b in zip(result.ready_seconds, result.program_seconds, strict=True))
    rss = summarise(result.rss_mb)
    cpu = summarise(result.idle_cpu)
    stop = summarise(result.stop_seconds)
    return [
        Row("3 scale", f"{n} agents ({result.topology}): CLI spawn -> stage.started (s)",
            summarise(result.load_seconds).render(" s")),
        Row("3 scale", f"{n} agents ({result.topology}): CLI spawn -> job.ready (s)",
            summarise(result.ready_seconds).render(" s")),
        Row("3 scale", f"{n} agents: bare program, its spawn -> last port open (s)",
            summarise(result.program_seconds).render(" s")),
        Row("3 scale", "ratio agentsup / bare program, both from their spawn",
            program_ratios.render(), "<= 1.10", _check(program_ratios, 1.10)),
        Row("3 scale", f"{n} agents: bare launcher in the bench, all at once (s)",
            summarise(result.bare_seconds).render(" s")),
        Row("3 scale", "ratio agentsup (from CLI spawn) / bare in the bench",
            summarise(ratios).render()),
        Row("3 scale", "supervisor peak RSS, VmHWM (MB)", rss.render(" MB", 1), "<= 150 MB",
            _check(rss, 150.0)),
        Row("3 scale", "supervisor idle CPU, checks every 5 s (% of a core)",
            cpu.render(" %"), "<= 0.5 %", _check(cpu, 0.5)),
        Row("3 scale", "SIGTERM -> supervisor exit (s)", stop.render(" s"), "<= 3 s",
            _check(stop, 3.0)),
        Row("3 scale", f"for scale: RSS of the {n} agents together (MB)",
            summarise(result.agent_rss_mb).render(" MB", 0)),
        Row("3 scale", "readiness latency at this scale (ms)",
            summarise(result.latencies_ms).render(" ms", 1)),
    ]


# ---------------------------------------------------------------------- 4 failure reaction


@dataclass(frozen=True)
class FailureResult:
    exited_ms: list[float]
    ready_ms: list[float]
    backoff: float


def _victim(run_number: int) -> Callable[[Event], bool]:
    def match(event: Event) -> bool:
        return event.get("agent") == "victim" and event.get("run") == run_number

    return match


def failure_reaction(workdir: Path, kills: int) -> FailureResult:
    tag = new_tag()
    ports = free_ports(3)
    backoff = 0.05
    ids = ["victim", "peer1", "peer2"]
    job = write_job(
        workdir, f"failure-{tag}", [(a, p, {}) for a, p in zip(ids, ports, strict=True)],
        {"type": "mesh", "agents": ids}, tag, interval=5.0,
        restart={"policy": "always", "max_restarts": kills + 5, "window": 600,
                 "backoff": {"initial": backoff, "factor": 1.0, "max": backoff}},
    )
    exited: list[float] = []
    ready: list[float] = []
    run = Agentsup(job)
    try:
        run.wait_for("job.ready")
        for attempt in range(1, kills + 1):
            started = run.wait_for(
                "agent.started", where=_victim(attempt)
            )
            run.wait_for(
                "agent.ready", where=_victim(attempt)
            )
            time.sleep(0.2)
            killed_at = time.time()
            os.kill(int(started["pid"]), signal.SIGKILL)
            gone = run.wait_for(
                "agent.exited",
                where=_victim(attempt),
            )
            back = run.wait_for(
                "agent.ready",
                where=_victim(attempt + 1),
            )
            exited.append(1000.0 * (event_time(gone) - killed_at))
            ready.append(1000.0 * (event_time(back) - killed_at))
        run.stop()
    finally:
        run.kill()
        kill_tagged(tag)
    return FailureResult(exited, ready, backoff)


def failure_rows(result: FailureResult) -> list[Row]:
    exited = summarise(result.exited_ms)
    return [
        Row("4 failure reaction", "kill -9 -> agent.exited (ms)", exited.render(" ms", 1),
            "<= 100 ms", _check(exited, 100.0)),
        Row("4 failure reaction",
            f"kill -9 -> agent.ready again (ms), backoff {result.backoff * 1000:.0f} ms",
            summarise(result.ready_ms).render(" ms", 1)),
    ]


# ---------------------------------------------------------------------- 5 output throughput


@dataclass(frozen=True)
class ThroughputResult:
    lines: int
    agentsup_rate: list[float]
    bare_rate: list[float]
    complete: list[bool]


def _bare_burst(lines: int, tag: str, port: int) -> float:
    """Lines per second when the bench itself reads the agent's stdout pipe."""
    process = subprocess.Popen(
        agent_command(), env=agent_env(tag, port, PRINT_LINES=str(lines)),
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    assert process.stdout is not None
    start = 0.0
    count = 0
    try:
        for line in process.stdout:
            if line.startswith('{"burst_start"'):
                start = float(line.split(":", 1)[1].rstrip("}\n"))
            elif line.startswith('{"burst_end"'):
                return count / (time.time() - start)
            elif line.startswith("n "):
                count += 1
        raise RuntimeError("the agent ended before its burst did")
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _stream_complete(outputs: list[Event], agent: str, lines: int) -> bool:
    expected = 0
    for event in outputs:
        if event.get("agent") != agent or "line" not in event:
            continue
        if event["line"] != f"n {expected}":
            return False
        expected += 1
    return expected == lines


def throughput(workdir: Path, lines: int, runs: int) -> ThroughputResult:
    ours: list[float] = []
    bare: list[float] = []
    complete: list[bool] = []
    for _ in range(runs):
        tag = new_tag()
        (port,) = free_ports(1)
        bare.append(_bare_burst(lines, tag, port))
        job = write_job(
            workdir, f"burst-{tag}", [("writer", port, {"PRINT_LINES": str(lines)})],
            {"type": "mesh", "agents": ["writer"]}, tag,
        )
        run = Agentsup(job)
        try:
            run.wait_for("job.ready")
            deadline = time.monotonic() + 300
            seen = 0
            while time.monotonic() < deadline:
                fresh = run.output_lines[seen:]
                seen += len(fresh)
                if any(b'"burst_end"' in line for line in fresh):
                    break
                time.sleep(0.05)
            run.stop()
        finally:
            run.kill()
            kill_tagged(tag)
        outputs = run.outputs()
        starts = [e for e in outputs if "burst_start" in (e.get("payload") or {})]
        ends = [e for e in outputs if "burst_end" in (e.get("payload") or {})]
        if not starts or not ends:
            complete.append(False)
            continue
        began = float(starts[0]["payload"]["burst_start"])
        ours.append(lines / (event_time(ends[0]) - began))
        complete.append(_stream_complete(outputs, "writer", lines))
    return ThroughputResult(lines, ours, bare, complete)


def throughput_rows(result: ThroughputResult) -> list[Row]:
    ratios = [a / b for a, b in zip(result.agentsup_rate, result.bare_rate, strict=False)]
    all_there = bool(result.complete) and all(result.complete)
    return [
        Row("5 output throughput", f"{result.lines:,} lines: every line, in order",
            f"{sum(result.complete)}/{len(result.complete)} runs", "all", all_there),
        Row("5 output throughput", "agentsup: lines/s into the event stream",
            summarise(result.agentsup_rate).render("", 0)),
        Row("5 output throughput", "bench reading the pipe itself: lines/s",
            summarise(result.bare_rate).render("", 0)),
        Row("5 output throughput", "ratio agentsup / bare pipe", summarise(ratios).render(),
            ">= 0.5", _check(summarise(ratios), 0.5, at_most=False)),
    ]


# ---------------------------------------------------------------------- 7 validate


@dataclass(frozen=True)
class ValidateResult:
    ours: list[float]
    bare: list[float]


VALIDATE_EXAMPLE = ROOT / "examples" / "hub-spoke.yaml"
"""The example the README opens with."""


def _timed_run(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, cwd=ROOT)
    return time.perf_counter() - start


def validate_runs(runs: int, job: Path = VALIDATE_EXAMPLE) -> ValidateResult:
    """`agentsup validate` against the least a Python tool must do for the same file.

    The reference starts the same interpreter, imports yaml and pydantic and reads the
    file; the two alternate, so load on the machine falls on both alike.
    """
    ours_argv = [interpreter(), "-c", CLI_MAIN, "validate", str(job)]
    bare_argv = [interpreter(), "-c",
                 f"import yaml, pydantic; yaml.safe_load(open({str(job)!r}))"]
    ours: list[float] = []
    bare: list[float] = []
    for _ in range(runs):
        ours.append(_timed_run(ours_argv))
        bare.append(_timed_run(bare_argv))
    return ValidateResult(ours, bare)


def validate_rows(result: ValidateResult) -> list[Row]:
    ratios = summarise(a / b for a, b in zip(result.ours, result.bare, strict=True))
    return [
        Row("7 validate", f"agentsup validate {VALIDATE_EXAMPLE.name} (s)",
            summarise(result.ours).render(" s")),
        Row("7 validate", "python -c: import yaml, pydantic; read the file (s)",
            summarise(result.bare).render(" s")),
        Row("7 validate", "ratio agentsup / bare python", ratios.render(), "<= 2.0",
            _check(ratios, 2.0)),
    ]
