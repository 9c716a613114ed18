"""`plan --format dot` renders as it is, with the real Graphviz `dot`."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from clirun import agentsup_command

EXAMPLES = sorted((Path(__file__).parent.parent / "examples").glob("*.yaml"))


@pytest.mark.integration
@pytest.mark.timeout(60)
@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_dot_output_renders(example: Path, tmp_path: Path) -> None:
    dot = shutil.which("dot")
    if dot is None:
        pytest.skip("Graphviz `dot` is not installed (apt-get install graphviz)")
    plan = subprocess.run(agentsup_command("plan", str(example), "--format", "dot"),
                          capture_output=True, text=True, timeout=30, check=True)
    svg = tmp_path / "plan.svg"
    rendered = subprocess.run([dot, "-Tsvg", "-o", str(svg)], input=plan.stdout,
                              capture_output=True, text=True, timeout=30)
    assert rendered.returncode == 0, rendered.stderr
    assert rendered.stderr == ""  # no syntax warnings either
    text = svg.read_text()
    assert "<svg" in text and "stage 1" in text
