"""agentsup against honcho, start-up only, in many alternating pairs.

    python -m bench.pairs                 # 8 pairs of 50 agents
    python -m bench.pairs --pairs 12 --agents 50

The full benchmark's side-by-side row makes three launches of each tool, each followed
by a minute of idle measurement, and its ratio moves by several hundredths from run to
run on two cores. This runs only the start-up (spawn -> every port open), agentsup and
honcho one after the other, so that many pairs fit in a minute or two and each pair saw
the same machine; it prints each tool's median and the median of the pairs' ratios.
Both run from bench/.venv, as in `python -m bench`.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from agentsup.ports import free_ports
from bench import cases, others
from bench.common import CLI_MAIN, ROOT, interpreter, new_tag, use_interpreter


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.pairs", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=8)
    parser.add_argument("--agents", type=int, default=50)
    args = parser.parse_args(argv)
    bin_dir = others.ensure_venv()
    use_interpreter(str(bin_dir / "python"))
    # As `python -m bench` does: the user's second run, with any kept schema made.
    subprocess.run([interpreter(), "-c", CLI_MAIN, "validate", str(cases.VALIDATE_EXAMPLE)],
                   cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    ours: list[float] = []
    theirs: list[float] = []
    with tempfile.TemporaryDirectory(prefix="agentsup-pairs-") as tmp:
        workdir = Path(tmp)
        for number in range(1, args.pairs + 1):
            ports = free_ports(args.agents)
            ours.append(others._agentsup(workdir, ports, new_tag(), 0.0, 0).start_seconds)
            ports = free_ports(args.agents)
            theirs.append(
                others._honcho(bin_dir, workdir, ports, new_tag(), 0.0, 0).start_seconds)
            print(f"pair {number}: agentsup {ours[-1]:.3f} s, honcho {theirs[-1]:.3f} s, "
                  f"ratio {ours[-1] / theirs[-1]:.3f}", flush=True)
    ratios = sorted(a / b for a, b in zip(ours, theirs, strict=True))
    print(f"agentsup {statistics.median(ours):.3f} s, honcho {statistics.median(theirs):.3f} s, "
          f"{args.agents} agents; ratio median {statistics.median(ratios):.3f} "
          f"[{ratios[0]:.3f}-{ratios[-1]:.3f}, n={len(ratios)}]")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
