"""Input that would break the runtime is refused by the real CLI: exit 2, a clear message,
no traceback."""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

import pytest
from clirun import agentsup_command

pytestmark = pytest.mark.integration

GOOD = """\
job: {name: limits}
agents:
  - id: a
    command: [sleep, "100"]
    config: {port: 18555}
topology: {type: mesh}
"""


def agentsup(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        agentsup_command(*map(str, args)), capture_output=True, text=True, timeout=120
    )


def refused(result: subprocess.CompletedProcess[str]) -> list[str]:
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    return result.stderr.splitlines()


BAD_VALUES = """\
job: {name: limits}
agents:
  - id: a
    command: [sleep, "100"]
    config: {port: 18555}
    deployment:
      environment:
        "A=B": 1
        "": 2
        OK: "a\\0b"
      stop_timeout: .inf
topology: {type: Hub_Spoke, hub: a}
environment:
  "X=": y
deployment:
  health_check: {interval: 1e10}
  restart: {backoff: {initial: 1e300, factor: .nan}}
  timeout: "10"
"""


def test_values_that_break_the_runtime_are_refused_with_positions(tmp_path: Path) -> None:
    job = tmp_path / "job.yaml"
    job.write_text(BAD_VALUES)
    lines = refused(agentsup("validate", job))
    assert lines == [
        f"{job}:8:9: agents[0].deployment.environment.A=B: environment variable name 'A=B' "
        "must not contain '='",
        f"{job}:9:9: agents[0].deployment.environment.: an environment variable needs a name",
        f"{job}:10:13: agents[0].deployment.environment.OK: must not contain a NUL character "
        "(an environment cannot carry it)",
        f"{job}:11:21: agents[0].deployment.stop_timeout: should be a finite number",
        f"{job}:14:3: environment.X=: environment variable name 'X=' must not contain '='",
        f"{job}:16:28: deployment.health_check.interval: should be less than or equal to 86400",
        f"{job}:17:32: deployment.restart.backoff.initial: should be less than or equal to 86400",
        f"{job}:17:47: deployment.restart.backoff.factor: should be a finite number",
        f"{job}:18:12: deployment.timeout: should be a valid number, not the text '10' "
        "(write numbers without quotes)",
    ]


def test_start_refuses_the_same_values_before_starting_anything(tmp_path: Path) -> None:
    job = tmp_path / "job.yaml"
    job.write_text(GOOD.replace("topology:", "deployment: {stop_timeout: .inf}\ntopology:"))
    lines = refused(agentsup("start", job))
    assert lines == [f"{job}:6:28: deployment.stop_timeout: should be a finite number"]


@pytest.mark.parametrize("value", ["0", "-1", "inf", "nan", "1e10", "soon"])
def test_monitor_needs_a_finite_positive_interval(tmp_path: Path, value: str) -> None:
    job = tmp_path / "job.yaml"
    job.write_text(GOOD)
    lines = refused(agentsup("start", job, f"--monitor={value}"))
    assert "--monitor" in lines[-1] and repr(value) in lines[-1]


def test_a_huge_job_file_is_refused_at_once(tmp_path: Path) -> None:
    job = tmp_path / "job.yaml"
    # 50 MB of YAML that, read in full, would expand through aliases.
    with job.open("w") as out:
        out.write(GOOD + "x-big: &a [" + "1, " * 1000 + "1]\n")
        out.write("x-more:\n" + "  - *a\n" * (50 * 1024 * 1024 // 7))
    assert refused(agentsup("validate", job)) == [
        f"{job}: is larger than 4 MiB; a job file is a small YAML document"
    ]


def test_a_job_file_just_under_the_limit_is_read(tmp_path: Path) -> None:
    job = tmp_path / "job.yaml"
    padding = "# " + "x" * 1000 + "\n"
    text = GOOD + padding * (4 * 1024 * 1024 // len(padding) - 1)
    job.write_text(text)
    assert len(text.encode()) <= 4 * 1024 * 1024
    result = agentsup("validate", job)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"job: {name: \xff\xfe}\n", "is not UTF-8 text (invalid start byte at byte 12)"),
        (
            b"\x7fELF\x02\x01\x01\x00\x00\x00",
            "is a binary file (it contains NUL bytes), not YAML text",
        ),
    ],
    ids=["latin-1", "binary"],
)
def test_whole_file_problems_have_no_position(
    tmp_path: Path, content: bytes, message: str
) -> None:
    job = tmp_path / "job.yaml"
    job.write_bytes(content)
    assert refused(agentsup("validate", job)) == [f"{job}: {message}"]


def test_a_directory_is_not_a_job_file(tmp_path: Path) -> None:
    assert refused(agentsup("validate", tmp_path)) == [
        f"{tmp_path}: is a directory, not a job file"
    ]


def test_documented_limit_matches_the_loader() -> None:
    from agentsup.job.loader import MAX_JOB_FILE_BYTES

    docs = (Path(__file__).resolve().parents[1] / "docs" / "job-file.md").read_text()
    assert f"{MAX_JOB_FILE_BYTES // (1024 * 1024)} MiB" in textwrap.dedent(docs)
