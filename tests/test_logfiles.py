"""deployment.logs: each agent's output in DIR/<job>/<agent>.log, rotated by size."""

from __future__ import annotations

import re
import signal
import textwrap
from pathlib import Path

import pytest

from agentsup import settings
from agentsup.job.loader import load_text
from agentsup.logfiles import RotatingFile
from tests.clirun import agent_entry, free_ports, supervisor, write_job_document

LINE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (stdout|stderr) (.*)")


def test_a_rotating_file_keeps_keep_files_none_past_max_size(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    file = RotatingFile(path, max_size=100, keep=2)
    for number in range(40):
        file.write(f"line {number:02d} {'x' * 10}\n")  # 19 bytes: 5 lines a file
    file.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.log", "a.log.1", "a.log.2"]
    texts = [(tmp_path / name).read_text() for name in ("a.log.2", "a.log.1", "a.log")]
    assert all(len(text.encode()) <= 100 for text in texts)
    numbers = [int(line.split()[1]) for text in texts for line in text.splitlines()]
    assert numbers == list(range(25, 40))


def test_a_reopened_file_goes_on_from_its_size(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    path.write_text("x" * 90)
    file = RotatingFile(path, max_size=100, keep=1)
    file.write("y" * 20)
    file.close()
    assert (tmp_path / "a.log.1").read_text() == "x" * 90
    assert path.read_text() == "y" * 20


def test_logs_settings_merge_job_and_agent() -> None:
    job = load_text(
        textwrap.dedent("""\
            job: {name: j}
            deployment: {logs: {dir: logs, max_size: 1M}}
            agents:
              - {id: a, command: x, config: {port: 1}}
              - {id: b, command: x, config: {port: 2}, deployment: {logs: {keep: 1}}}
              - {id: c, command: x, config: {port: 3}, deployment: {logs: {enabled: false}}}
            topology: {type: dynamic}
            """),
        "job.yaml", base_dir=Path("."), import_check=False,
    ).definition
    a, b, c = (settings.log_files(job, job.agent(x)) for x in "abc")
    assert a is not None and (a.dir, a.max_size, a.keep) == ("logs", 1024**2, 5)
    assert b is not None and (b.dir, b.max_size, b.keep) == ("logs", 1024**2, 1)
    assert c is None


@pytest.mark.parametrize("size", ["10Q", "12", "-1M", "true"])
def test_bad_sizes_are_errors(size: str) -> None:
    from agentsup.job.problems import JobFileError

    with pytest.raises(JobFileError, match=r"job.yaml:2:\d+: deployment.logs.max_size: "):
        load_text(
            f"job: {{name: j}}\ndeployment: {{logs: {{dir: l, max_size: {size}}}}}\n"
            "agents: [{id: a, command: x, config: {port: 1}}]\ntopology: {type: dynamic}\n",
            "job.yaml", base_dir=Path("."), import_check=False,
        )


@pytest.mark.integration
def test_real_output_is_written_and_rotated(tmp_path: Path) -> None:
    ports = free_ports(2)
    chatty = agent_entry("chatty", ports[0], PRINT_LINES=600)
    quiet = agent_entry("quiet", ports[1], PRINT_LINES=3)
    quiet["deployment"]["logs"] = {"max_size": "1M"}
    job = write_job_document(
        tmp_path, [chatty, quiet], {"type": "dynamic"}, name="rot",
        logs={"dir": "logs", "max_size": "4K", "keep": 3},
    )
    with supervisor(job) as running:
        running.wait_for("job.ready")
        running.signal(signal.SIGTERM)
        assert running.wait() == 0
    directory = tmp_path / "logs" / "rot"
    assert sorted(p.name for p in directory.iterdir()) == [
        "chatty.log", "chatty.log.1", "chatty.log.2", "chatty.log.3", "quiet.log",
    ]
    kept: list[tuple[str, str]] = []
    for name in ("chatty.log.3", "chatty.log.2", "chatty.log.1", "chatty.log"):
        data = (directory / name).read_bytes()
        assert len(data) <= 4096
        for line in data.decode().splitlines():
            match = LINE.fullmatch(line)
            assert match, line
            kept.append((match.group(1), match.group(2)))
    # The two pipes are read as their data comes, so the streams interleave in any
    # order; within each, the newest lines are kept, none lost between the files.
    assert 0 < len(kept) < 1200  # the oldest lines went with the deleted file
    for stream, prefix in (("stdout", "out line"), ("stderr", "err line")):
        numbers = [int(text.split()[-1]) for s, text in kept
                   if s == stream and text.startswith(prefix)]
        assert numbers == list(range(600 - len(numbers), 600))
    quiet_lines = [LINE.fullmatch(x) for x in (directory / "quiet.log").read_text().splitlines()]
    assert {(m.group(1), m.group(2)) for m in quiet_lines if m} >= {
        ("stdout", "out line 2"), ("stderr", "err line 2"),
    }


@pytest.mark.integration
def test_a_log_directory_that_cannot_be_made_fails_before_anything_starts(
    tmp_path: Path,
) -> None:
    (tmp_path / "taken").write_text("a file, not a directory")
    (port,) = free_ports(1)
    job = write_job_document(tmp_path, [agent_entry("a", port)], {"type": "dynamic"},
                             logs={"dir": "taken"})
    with supervisor(job) as running:
        failed = running.wait_for("job.failed")
        assert running.wait() == 1
    assert failed["reason"].startswith("cannot open log files: ")
    assert running.named("agent.started") == []


def test_logs_without_a_directory_anywhere_are_an_error() -> None:
    from agentsup.job.problems import JobFileError

    with pytest.raises(JobFileError) as caught:
        load_text(
            "job: {name: j}\ndeployment: {logs: {keep: 2}}\nagents:\n"
            "  - {id: a, command: x, config: {port: 1}}\n"
            "  - {id: b, command: x, config: {port: 2}, deployment: {logs: {enabled: false}}}\n"
            "  - {id: c, command: x, config: {port: 3}, deployment: {logs: {max_size: 2K}}}\n"
            "topology: {type: dynamic}\n",
            "job.yaml", base_dir=Path("."), import_check=False,
        )
    assert caught.value.render().splitlines() == [
        "job.yaml:2:20: deployment.logs: log files need 'dir' (here or in the job's "
        "deployment.logs)",
        "job.yaml:6:63: agents[2].deployment.logs: log files need 'dir' (here or in the "
        "job's deployment.logs)",
    ]
