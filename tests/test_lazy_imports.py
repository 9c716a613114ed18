"""Each command imports what it uses, and no more.

Interpreter start-up and imports are most of what `agentsup validate` costs, and most of
what `start` spends before its first stage. These tests run the real CLI entry point in
a fresh interpreter and look at `sys.modules` afterwards: a module-level import that
drags the supervisor's machinery into `validate` fails here, not as a slower benchmark.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "hub-spoke.yaml"

PROBE = """\
import contextlib, io, json, sys
from agentsup.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    code = main(sys.argv[1:])
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""

# What only `start` (or a file with problems, for difflib) needs.
NOT_FOR_READING = (
    "pykka",
    "http.server",
    "http.client",
    "agentsup.app",
    "agentsup.actors",
    "agentsup.messages",
    "agentsup.probes",
    "agentsup.runners",
    "agentsup.runners.base",
    "agentsup.control.server",
    "agentsup.control.client",
    "agentsup.control.rundir",
    "agentsup.logs",
    "agentsup.console",
    "agentsup.restart",
    "difflib",
)


def modules_after(*args: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=True,
    )
    result = json.loads(done.stdout.splitlines()[-1])
    assert result["code"] == 0, done.stderr
    return set(result["modules"])


@pytest.mark.parametrize("command", ["validate", "plan"])
def test_reading_a_job_imports_no_supervisor_machinery(command: str) -> None:
    modules = modules_after(command, str(EXAMPLE))
    assert "agentsup.job.loader" in modules  # the probe did run the command
    assert sorted(modules.intersection(NOT_FOR_READING)) == []
    assert "agentsup.job.schema" not in modules


def test_validate_does_not_import_the_plan_renderers() -> None:
    # `plan --format` lists the renderers' names without importing them (cli.PLAN_FORMATS).
    assert "agentsup.render" not in modules_after("validate", str(EXAMPLE))
    assert "agentsup.render" in modules_after("plan", "--format", "json", str(EXAMPLE))


def test_schema_does_not_load_or_resolve_jobs() -> None:
    modules = modules_after("schema")
    assert "agentsup.job.schema" in modules
    assert sorted(modules.intersection(NOT_FOR_READING)) == []
    assert not modules.intersection({"agentsup.job.loader", "agentsup.resolving"})


def test_validate_under_another_pydantic_core_loads_no_openssl(tmp_path: Path) -> None:
    """With a pydantic-core other than the one `records_schema.py` was written for, the
    schema comes from a kept file named by a digest of its sources (`schema_cache`):
    that digest must not load OpenSSL's libcrypto through `hashlib` on every command."""
    probe = ("import agentsup.job.records_schema as written\n"
             "written.PYDANTIC_CORE_VERSION = 'another'\n" + PROBE)
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}
    for run in range(2):  # the first makes and keeps the schema, the second reads it
        done = subprocess.run(
            [sys.executable, "-c", probe, "validate", str(EXAMPLE)],
            cwd=ROOT, capture_output=True, text=True, timeout=120, check=True, env=env,
        )
        result = json.loads(done.stdout.splitlines()[-1])
        assert result["code"] == 0, done.stderr
        modules = set(result["modules"])
        assert "agentsup.job.schema_cache" in modules  # the other pydantic-core's path
        assert "_hashlib" not in modules, f"run {run + 1}"
    assert len(list((tmp_path / "agentsup").glob("job-schema-*.marshal"))) == 1


def test_the_supervisor_loads_ctypes_only_when_it_needs_it() -> None:
    """ctypes (about a millisecond and a half) is for looking at an agent's sockets once
    it answers, and for the parent-death signal when the reaper cannot run: not for
    anything before the first agent is launched."""
    code = ("import sys, agentsup.cli, agentsup.job.loader, agentsup.app, "
            "agentsup.runners.local, agentsup.probes.loop, agentsup.actors.agent; "
            "print('ctypes' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, check=True)
    assert done.stdout.strip() == "False", done.stderr


def test_the_supervisor_loads_openssl_only_for_https_health_checks() -> None:
    """OpenSSL (`ssl`, about 3.5 ms) is for probing agents over HTTPS: a job whose checks
    are plain HTTP never loads it, and `start` does not pay for it before its first
    launch. The first HTTPS probe request loads it."""
    code = ("import sys, agentsup.cli, agentsup.job.loader, agentsup.app, "
            "agentsup.runners.local, agentsup.probes.loop, agentsup.actors.agent\n"
            "from agentsup.probes.request import probe_request\n"
            "probe_request('http://localhost:8000', 1.0, path='/health')\n"
            "before = 'ssl' in sys.modules\n"
            "probe_request('http://localhost:8000', 1.0, path='/health', scheme='https')\n"
            "print(before, 'ssl' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, check=True)
    assert done.stdout.split() == ["False", "True"], done.stderr
