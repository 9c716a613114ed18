"""agentsup against honcho or the bare program, start-up only, in pairs.

    python -m bench.pairs                              # 8 pairs of 50 agents, honcho
    python -m bench.pairs --against bare --agents 200  # the scale row's comparison

The full benchmark's side-by-side row makes three launches of each tool, each followed
by a minute of idle measurement, and its ratio moves by several hundredths from run to
run on two cores, as does the scale row's with its three. This runs only the start-up,
agentsup and the reference one after the other, so that many pairs fit in a few
minutes and each pair saw the same machine; it prints each one's median and the median
of the pairs' ratios. One run of each comes first and is not counted: on this machine
whichever program runs first after a pause is several percent slower (the bare program
4.46 s first, 4.10 s after a run). Which of the two goes first alternates from pair to
pair, so that what is left of that favours neither. Against honcho: spawn -> every
port open, as in the side-by-side row. Against the bare program: agentsup's spawn ->
`job.ready` (a mesh) and the bare program's spawn -> last port open, as in the scale
row. Everything runs from bench/.venv, as in `python -m bench`.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from collections.abc import Sequence
from pathlib import Path

from agentsup.ports import free_ports
from bench import cases, others
from bench.common import (
    Agentsup,
    bare_program_seconds,
    event_time,
    kill_tagged,
    new_tag,
    prepare_agentsup,
    use_interpreter,
    write_job,
)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.pairs", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=8)
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--against", choices=("honcho", "bare"), default="honcho")
    args = parser.parse_args(argv)
    bin_dir = others.ensure_venv()
    use_interpreter(str(bin_dir / "python"))
    prepare_agentsup(cases.VALIDATE_EXAMPLE)
    ours: list[float] = []
    theirs: list[float] = []
    with tempfile.TemporaryDirectory(prefix="agentsup-pairs-") as tmp:
        workdir = Path(tmp)

        def agentsup() -> float:
            if args.against == "honcho":
                ports = free_ports(args.agents)
                return others._agentsup(workdir, ports, new_tag(), 0.0, 0).start_seconds
            return _agentsup_ready(workdir, args.agents)

        def reference() -> float:
            if args.against == "honcho":
                ports = free_ports(args.agents)
                return others._honcho(bin_dir, workdir, ports, new_tag(), 0.0, 0).start_seconds
            return bare_program_seconds(
                workdir, new_tag(), [[(port, {}) for port in free_ports(args.agents)]])

        warm = (agentsup(), reference())
        print(f"not counted: agentsup {warm[0]:.3f} s, {args.against} {warm[1]:.3f} s",
              flush=True)
        for number in range(1, args.pairs + 1):
            if number % 2:
                ours.append(agentsup())
                theirs.append(reference())
            else:
                theirs.append(reference())
                ours.append(agentsup())
            first = "agentsup" if number % 2 else args.against
            print(f"pair {number} ({first} first): agentsup {ours[-1]:.3f} s, "
                  f"{args.against} {theirs[-1]:.3f} s, ratio {ours[-1] / theirs[-1]:.3f}",
                  flush=True)
    ratios = sorted(a / b for a, b in zip(ours, theirs, strict=True))
    print(f"agentsup {statistics.median(ours):.3f} s, {args.against} "
          f"{statistics.median(theirs):.3f} s, "
          f"{args.agents} agents; ratio median {statistics.median(ratios):.3f} "
          f"[{ratios[0]:.3f}-{ratios[-1]:.3f}, n={len(ratios)}]")
    return 0


def _agentsup_ready(workdir: Path, agents: int) -> float:
    """Spawn -> `job.ready` of a mesh of `agents`, as the scale row times it."""
    tag = new_tag()
    ports = free_ports(agents)
    ids = [f"m{i:03d}" for i in range(agents)]
    job = write_job(workdir, f"mesh-{tag}", [(a, p, {}) for a, p in zip(ids, ports, strict=True)],
                    {"type": "mesh", "agents": ids}, tag, interval=5.0)
    run = Agentsup(job)
    try:
        ready = event_time(run.wait_for("job.ready", timeout=300)) - run.launched_at
        run.stop()
        return ready
    finally:
        run.kill()
        kill_tagged(tag)


if __name__ == "__main__":
    raise SystemExit(main())
