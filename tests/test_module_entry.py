"""`python -m agentsup` and `python -m agentsup.cli` run the program, as the script does.

Without an entry point `python -m agentsup.cli start job.yaml` imported the module,
did nothing and exited 0: a script using it would believe its job had run.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "pipeline.yaml"


@pytest.mark.parametrize("module", ["agentsup", "agentsup.cli"])
def test_python_dash_m_runs_the_command(module: str, tmp_path: Path) -> None:
    valid = subprocess.run([sys.executable, "-m", module, "validate", str(EXAMPLE)],
                           capture_output=True, text=True, timeout=60)
    assert valid.returncode == 0, valid.stderr
    assert "valid: job 'pipeline-demo'" in valid.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text("job: {name: x}\n")
    refused = subprocess.run([sys.executable, "-m", module, "validate", str(bad)],
                             capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2
    assert f"{bad}:" in refused.stderr
