"""The cyclic collector is off while a command starts up, and on again for a running job.

A `start` that left it off would leak every reference cycle of a long run; one that
never froze start-up would walk those objects in every full collection. The CLI runs in
a fresh interpreter here, as the `agentsup` script runs it.
"""

from __future__ import annotations

import gc
import json
import subprocess
import sys
from pathlib import Path

from agentsup import collector
from tests.clirun import agent_entry, free_ports, write_job_document

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "hub-spoke.yaml"

# Runs `main` in this interpreter and watches the collector from a second thread: it
# notes that the collector went off once `main` began, and whether it came on again
# while the job ran; once it has, it stops the job with SIGTERM (a clean stop, exit 0).
PROBE = """\
import contextlib, gc, io, json, os, signal, sys, threading, time
from agentsup.cli import main
seen = {"off": False, "on_again": False, "frozen_at_resume": 0}
def watch():
    deadline = time.monotonic() + 60
    while gc.isenabled() and time.monotonic() < deadline:
        time.sleep(0.001)
    seen["off"] = not gc.isenabled()
    while not gc.isenabled() and time.monotonic() < deadline:
        time.sleep(0.005)
    seen["on_again"] = gc.isenabled()
    seen["frozen_at_resume"] = gc.get_freeze_count()
    if sys.argv[1] == "start":
        os.kill(os.getpid(), signal.SIGTERM)
watcher = threading.Thread(target=watch, daemon=True)
watcher.start()
with contextlib.redirect_stdout(io.StringIO()):
    code = main(sys.argv[1:])
watcher.join(timeout=5)
print(json.dumps({"code": code, "enabled_after": gc.isenabled(),
                  "frozen_after": gc.get_freeze_count(), **seen}))
"""


def probe(*args: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        cwd=ROOT, capture_output=True, text=True, timeout=90, check=False,
    )
    assert done.stdout, done.stderr
    result: dict[str, object] = json.loads(done.stdout.splitlines()[-1])
    return result


def test_a_running_job_collects_again_after_start_up(tmp_path: Path) -> None:
    (port,) = free_ports(1)
    job = write_job_document(tmp_path, [agent_entry("solo", port)], {"type": "mesh"})
    result = probe("start", str(job), "--log-format", "json")
    assert result["code"] == 0
    assert result["off"] is True
    assert result["on_again"] is True
    assert isinstance(result["frozen_at_resume"], int) and result["frozen_at_resume"] > 10_000
    assert result["enabled_after"] is True


def test_validate_runs_without_collections_and_leaves_the_collector_as_found() -> None:
    result = probe("validate", str(EXAMPLE))
    assert result["code"] == 0
    assert result["off"] is True
    # The watcher saw it on again only when `main` had returned: there was no resume.
    assert result["enabled_after"] is True
    assert isinstance(result["frozen_after"], int) and result["frozen_after"] > 10_000


def test_pause_restores_a_collector_that_was_off() -> None:
    was = gc.isenabled()
    gc.disable()
    try:
        with collector.paused():
            assert not gc.isenabled()
            collector.resume()
            assert gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.unfreeze()
        if was:
            gc.enable()


def test_resume_outside_a_pause_changes_nothing() -> None:
    frozen = gc.get_freeze_count()
    enabled = gc.isenabled()
    collector.resume()
    assert gc.get_freeze_count() == frozen
    assert gc.isenabled() == enabled
