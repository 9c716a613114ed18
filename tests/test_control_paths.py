"""How the control commands find the job a command line names, through the real CLI.

A job file given to a control command stands for the job `start` was given it, by the
record of that file, even once the file is deleted or its `job.name` edited; repeated
agent names are taken once; the usage errors name only what is missing; and `down`,
which must read the file, says so when given a job's name.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.clirun import (
    agent_entry,
    agentsup_command,
    free_ports,
    supervisor,
    write_job_document,
)

pytestmark = pytest.mark.integration


def ctl(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(agentsup_command(*args), capture_output=True, text=True,
                          timeout=60, env=dict(os.environ), cwd=cwd)


def status(job: str, cwd: Path | None = None) -> dict[str, Any]:
    result = ctl("status", job, "--json", cwd=cwd)
    assert result.returncode == 0, result.stderr
    value: dict[str, Any] = json.loads(result.stdout)
    return value


def one_agent_job(directory: Path, name: str = "t", **env: Any) -> Path:
    (port,) = free_ports(1)
    return write_job_document(directory, [agent_entry("a", port, **env)],
                              {"type": "dynamic"}, name=name)


def rename(job: Path, name: str) -> None:
    document = yaml.safe_load(job.read_text())
    document["job"]["name"] = name
    job.write_text(yaml.safe_dump(document, sort_keys=False))


def test_the_file_names_its_running_job_after_an_edit_and_after_deletion(
        tmp_path: Path) -> None:
    job = one_agent_job(tmp_path)
    with supervisor(job) as run:
        run.wait_for("job.ready")
        rename(job, "renamed")
        edited = status(str(job))
        assert edited["job"] == "t" and edited["file"] == str(job.resolve())
        # A relative path is resolved where the command runs, as `start` resolved it.
        assert status("job.yaml", cwd=tmp_path)["job"] == "t"
        renamed = ctl("logs", str(job))
        assert renamed.returncode == 0, renamed.stderr

        # Another file with the same `job.name` was not started: it is read for its name.
        other = tmp_path / "other"
        other.mkdir()
        copy = one_agent_job(other)
        assert status(str(copy))["job"] == "t"
        assert status(str(copy))["file"] == str(job.resolve())

        job.unlink()
        assert status(str(job))["job"] == "t"
        stopped = ctl("stop", "job.yaml", cwd=tmp_path)
        assert stopped.returncode == 0, stopped.stderr
        assert stopped.stdout == "job 't' stopped\n"
        assert run.wait() == 0
    gone = ctl("stop", str(job))
    assert gone.returncode == 2
    assert gone.stdout == ""
    assert gone.stderr == (f"agentsup: {job}: no such job file, and no running job was "
                           "started from it\n")


def test_a_file_started_under_two_names(tmp_path: Path) -> None:
    job = one_agent_job(tmp_path, name="first")
    with supervisor(job) as first:
        first.wait_for("job.ready")
        job = one_agent_job(tmp_path, name="second")  # the same file, another name and port
        with supervisor(job) as second:
            second.wait_for("job.ready")
            # The file says `second`, one of the jobs started from it: that one is meant.
            assert status(str(job))["job"] == "second"
            rename(job, "third")
            ambiguous = ctl("status", str(job))
            assert ambiguous.returncode == 2
            assert ambiguous.stderr == (
                f"agentsup: {job}: jobs 'first', 'second' were all started from this "
                "file; name the job instead\n")
            job.unlink()
            assert ctl("status", str(job)).stderr == ambiguous.stderr
            assert ctl("stop", "second").returncode == 0
            assert second.wait() == 0
        # One job is left that was started from the file: the file names it again.
        assert status(str(job))["job"] == "first"
        assert ctl("stop", str(job)).returncode == 0
        assert first.wait() == 0


def test_an_agent_named_twice_gives_its_lines_once(tmp_path: Path) -> None:
    a, b = free_ports(2)
    job = write_job_document(
        tmp_path, [agent_entry("a", a, PRINT_LINES=3), agent_entry("b", b, PRINT_LINES=3)],
        {"type": "dynamic"})
    with supervisor(job) as run:
        run.wait_for("job.ready")
        for agent in ("a", "b"):
            for line in ("out line 2", "err line 2"):
                run.wait_for("agent.output",
                             where=lambda e, a=agent, t=line: (e["agent"], e.get("line"))
                             == (a, t))
        once = ctl("logs", "t", "a", "b", "-n", "100")
        assert once.returncode == 0, once.stderr
        twice = ctl("logs", "t", "a", "b", "a", "b", "a", "-n", "100")
        assert twice.returncode == 0, twice.stderr
        assert twice.stdout == once.stdout
        lines = once.stdout.splitlines()
        assert len(lines) == len(set(lines))
        assert {f"{agent} | {stream} line {i}" for agent in "ab"
                for stream in ("out", "err") for i in range(3)} <= set(lines)
        assert ctl("stop", "t").returncode == 0
        assert run.wait() == 0


@pytest.mark.parametrize(("command", "missing"), [
    ("stop", "job"),
    ("logs", "job"),
    ("restart", "job, AGENT"),
    ("reload", "job"),
])
def test_a_usage_error_names_only_what_is_missing(command: str, missing: str) -> None:
    result = ctl(command)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.endswith(
        f"agentsup {command}: error: the following arguments are required: {missing}\n")


def test_down_given_a_job_name_says_it_takes_the_file(tmp_path: Path) -> None:
    result = ctl("down", "t", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == (
        "agentsup: t: no such file; `agentsup down` takes the job file, not the job's "
        "name: it reads from the file where the agents ran\n")
    # A word that is plainly a file gets the loader's own line, as `validate` gives it.
    missing = tmp_path / "missing.yaml"
    file_result = ctl("down", str(missing))
    assert file_result.returncode == 2
    assert file_result.stderr == ctl("validate", str(missing)).stderr
    assert file_result.stderr == f"{missing}: no such file\n"
