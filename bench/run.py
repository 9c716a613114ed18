"""Run the benchmarks and print one table.

    python -m bench            # full: more runs, longer idle windows (about 6 minutes)
    python -m bench --quick    # fewer runs (about three minutes)
    python -m bench --only staged,failure --markdown out.md

Every figure is the median of the runs with [min-max, n] after it; ratios compare
agentsup with a baseline measured in the same run on the same machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bench import cases, others
from bench.cases import Row
from bench.common import (
    LIBRARIES,
    Summary,
    interpreter,
    prepare_agentsup,
    summarise,
    use_interpreter,
)
from bench.others import ensure_venv


@dataclass(frozen=True)
class Settings:
    staged_runs: int
    scale_agents: int
    scale_runs: int
    idle_window: float
    idle_windows: int
    kills: int
    lines: int
    throughput_runs: int
    side_agents: int
    side_runs: int
    scale_topology: str
    validate_runs: int


QUICK = Settings(staged_runs=3, scale_agents=200, scale_runs=1, idle_window=5.0,
                 idle_windows=2, kills=5, lines=200_000, throughput_runs=2,
                 side_agents=50, side_runs=2, scale_topology="dynamic", validate_runs=7)
FULL = Settings(staged_runs=7, scale_agents=200, scale_runs=3, idle_window=5.0,
                idle_windows=3, kills=10, lines=200_000, throughput_runs=3,
                side_agents=50, side_runs=3, scale_topology="mesh", validate_runs=15)
BENCHES = ("staged", "scale", "failure", "throughput", "side", "validate")


def _side_rows(results: Sequence[others.ToolResult], agents: int) -> list[Row]:
    by_tool: dict[str, list[others.ToolResult]] = {}
    for result in results:
        by_tool.setdefault(result.tool, []).append(result)
    ours = by_tool.get("agentsup", [])
    rows: list[Row] = []
    floor = by_tool.pop(others.FLOOR, [])
    for tool, runs in by_tool.items():
        start = summarise(r.start_seconds for r in runs)
        cpu = summarise(c for r in runs for c in r.idle_cpu)
        rss = summarise(r.rss_mb for r in runs)
        stop = summarise(r.stop_seconds for r in runs)
        rows.append(Row(
            "6 side by side",
            f"{tool}, {agents} agents: spawn -> all ports open / idle CPU / RSS / stop",
            f"{start.render(' s')} / {cpu.render(' %')} / {rss.render(' MB', 0)} / "
            f"{stop.render(' s')}",
        ))
        if tool != "agentsup" and ours:
            ratio = summarise(
                a.start_seconds / b.start_seconds for a, b in zip(ours, runs, strict=False)
            )
            base_cpu = statistics.median(c for r in runs for c in r.idle_cpu)
            our_cpu = statistics.median(c for r in ours for c in r.idle_cpu)
            cpu_text = f"{our_cpu / base_cpu:.1f}x" if base_cpu > 0.01 else "n/a (tool ~0 %)"
            rows.append(Row("6 side by side", f"agentsup / {tool}: start-up time, idle CPU",
                            f"{ratio.render()} / {cpu_text}",
                            "<= 1.0" if tool == "honcho" else "",
                            _check_at_most(ratio, 1.0) if tool == "honcho" else None))
    honcho = by_tool.get("honcho", [])
    if floor and honcho:
        libraries = ", ".join(LIBRARIES)
        rows.append(Row("6 side by side", f"floor: bare program importing {libraries} first, "
                        f"{agents} agents at once (s)",
                        summarise(r.start_seconds for r in floor).render(" s")))
        rows.append(Row("6 side by side", "floor / honcho: the least agentsup's libraries "
                        "leave to this ratio", summarise(
                            a.start_seconds / b.start_seconds
                            for a, b in zip(floor, honcho, strict=False)).render()))
    return rows


def _check_at_most(summary: Summary, limit: float) -> bool | None:
    return None if summary.count == 0 else summary.median <= limit


def run(settings: Settings, only: Sequence[str], workdir: Path,
        progress: Callable[[str], None]) -> list[Row]:
    rows: list[Row] = []
    if "staged" in only:
        progress("1-2 staged start-up and readiness latency")
        rows += cases.staged_rows(cases.staged_startup(workdir, settings.staged_runs))
    if "scale" in only:
        progress(f"3 scale: {settings.scale_agents} agents")
        rows += cases.scale_rows(cases.scale(
            workdir, settings.scale_agents, settings.scale_runs,
            settings.idle_window, settings.idle_windows, settings.scale_topology,
        ))
    if "failure" in only:
        progress("4 failure reaction")
        rows += cases.failure_rows(cases.failure_reaction(workdir, settings.kills))
    if "throughput" in only:
        progress("5 output throughput")
        rows += cases.throughput_rows(
            cases.throughput(workdir, settings.lines, settings.throughput_runs)
        )
    if "side" in only:
        progress(f"6 side by side: {settings.side_agents} agents")
        rows += _side_rows(
            others.side_by_side(workdir, settings.side_agents, settings.side_runs,
                                settings.idle_window, settings.idle_windows),
            settings.side_agents,
        )
    if "validate" in only:
        progress("7 validate")
        rows += cases.validate_rows(cases.validate_runs(settings.validate_runs))
    return rows


def render_markdown(rows: Sequence[Row]) -> str:
    lines = ["| benchmark | metric | median [min-max, n] | target | met |",
             "| --- | --- | --- | --- | --- |"]
    lines += [f"| {r.bench} | {r.metric} | {r.value} | {r.target} | {r.verdict} |"
              for r in rows]
    return "\n".join(lines) + "\n"


def render_text(rows: Sequence[Row]) -> str:
    headers = ("benchmark", "metric", "median [min-max, n]", "target", "met")
    table = [headers] + [(r.bench, r.metric, r.value, r.target, r.verdict) for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(headers))]
    out = []
    for index, row in enumerate(table):
        out.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
        if index == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out) + "\n"


def _load(averages: tuple[float, float, float]) -> str:
    return "/".join(f"{value:.1f}" for value in averages)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer runs, about three minutes")
    parser.add_argument("--only", default=",".join(BENCHES),
                        help=f"comma-separated subset of {', '.join(BENCHES)}")
    parser.add_argument("--markdown", type=Path, help="also write the table as Markdown here")
    parser.add_argument(
        "--interpreter", choices=("venv", "current"), default="venv",
        help="where agentsup, the bare programs and the references start: bench/.venv "
             "(the default, beside honcho and supervisord) or this Python's environment")
    args = parser.parse_args(argv)
    only = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = sorted(set(only) - set(BENCHES))
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}")
    settings = QUICK if args.quick else FULL
    began = time.monotonic()

    def progress(message: str) -> None:
        print(f"[{time.monotonic() - began:6.1f} s] {message}", flush=True)

    if args.interpreter == "venv":
        progress("bench/.venv: supervisord, honcho and agentsup's dependencies")
        use_interpreter(str(ensure_venv() / "python"))
    prepare_agentsup(cases.VALIDATE_EXAMPLE)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="agentsup-bench-") as tmp:
        rows = run(settings, only, Path(tmp), progress)
    load_after = os.getloadavg()
    print()
    print(render_text(rows))
    # Ratios compare runs made side by side; the load says how far the absolute
    # figures can be trusted on a machine shared with other work.
    print(f"{'quick' if args.quick else 'full'} mode, {time.monotonic() - began:.0f} s, "
          f"Python {platform.python_version()} ({interpreter()}), {os.cpu_count()} cores, "
          "load average "
          f"{_load(load_before)} before, {_load(load_after)} after")
    if args.markdown is not None:
        args.markdown.write_text(render_markdown(rows))
    return 0
