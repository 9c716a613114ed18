"""A smoke version of benchmark 1: the ratio can be computed. Not a timing assertion."""

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

    bare, ours, cli, latencies = staged_once(tmp_path, stages=2, per_stage=2, delay=0.1)
    ratio = ours / bare
    assert math.isfinite(ratio) and ratio > 0
    assert cli >= ours > 0
    assert len(latencies) == 4
    assert all(math.isfinite(value) for value in latencies)
