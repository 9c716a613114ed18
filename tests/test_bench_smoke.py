"""Smoke versions of the benchmarks: the ratios can be computed. No timing assertions."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

ROOT = Path(__file__).resolve().parent.parent


def test_staged_startup_ratio_is_computable(tmp_path: Path) -> None:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from bench.cases import staged_once

    once = staged_once(tmp_path, stages=2, per_stage=2, delay=0.1)
    # The ratios the table prints: from spawning the CLI, against the bare launcher
    # program from its own spawn and against the in-process one.
    for ratio in (once.cli / once.program, once.cli / once.bare):
        assert math.isfinite(ratio) and ratio > 0
    assert once.cli >= once.stages > 0
    assert once.program > 0
    assert len(once.latencies_ms) == 4
    assert all(math.isfinite(value) for value in once.latencies_ms)


def test_validate_ratio_is_computed_against_a_bare_python() -> None:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from bench.cases import validate_rows, validate_runs

    result = validate_runs(1)
    assert len(result.ours) == len(result.bare) == 1
    rows = {row.metric: row for row in validate_rows(result)}
    ratio = rows["ratio agentsup / bare python"]
    assert ratio.value != "n/a" and ratio.met is not None
    assert math.isfinite(float(ratio.value.split()[0]))
