"""Commands whose reader has gone (`agentsup status | head -1`) end quietly.

The reading end of the pipe is closed before the command starts, so its first write
fails for certain: no race with a reader that might still take the output.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.clirun import agentsup_command

pytestmark = pytest.mark.integration

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "dag.yaml"


@pytest.mark.parametrize(
    "args",
    [["validate", str(EXAMPLE)], ["plan", str(EXAMPLE)], ["schema"], ["status"]],
    ids=["validate", "plan", "schema", "status"],
)
def test_a_reader_that_went_away_ends_the_command_without_a_traceback(
    args: list[str],
) -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run(agentsup_command(*args), stdout=write_end,
                              stderr=subprocess.PIPE, text=True, timeout=60)
    finally:
        os.close(write_end)
    assert done.stderr == ""
    assert done.returncode == 0
