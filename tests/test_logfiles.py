"""deployment.logs: each agent's output in DIR/<job>/<agent>.log, rotated by size."""

from __future__ import annotations

import re
import signal
import textwrap
from pathlib import Path

import pytest

from agentsup import settings
from agentsup.job.loader import load_text
from agentsup.logfiles import LogFiles, RotatingFile, rotated_numbers
from agentsup.runners.lines import LineBatch
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


def test_a_huge_keep_renames_only_the_rotated_files_there(tmp_path: Path) -> None:
    # Each rotation used to walk every number from keep down to 1: with keep=10**9 this
    # write would not have finished within the test timeout.
    path = tmp_path / "a.log"
    files = LogFiles({"a": RotatingFile(path, max_size=1024, keep=10**9)})
    for number in range(4):
        files("a", "stdout", LineBatch([f"{number} {'y' * 1500}"]))  # each line past max_size
    rotated = files.files["a"].rotated
    files.close()
    assert rotated == (3, 2, 1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.log", "a.log.1", "a.log.2", "a.log.3"]
    texts = [(tmp_path / name).read_text() for name in ("a.log.3", "a.log.2", "a.log.1", "a.log")]
    assert [LINE.fullmatch(t.rstrip("\n")).group(2)[0] for t in texts] == ["0", "1", "2", "3"]


def test_rotation_moves_what_is_there_and_deletes_past_keep(tmp_path: Path) -> None:
    for name, text in [("a.log", "current"), ("a.log.1", "one"), ("a.log.3", "three"),
                       ("a.log.7", "left by a larger keep"), ("a.log.01", "not ours"),
                       ("a.log.1.gz", "not ours"), ("b.log.1", "another agent's")]:
        (tmp_path / name).write_text(text)
    file = RotatingFile(tmp_path / "a.log", max_size=10, keep=4)
    assert file.rotated == (7, 3, 1)
    file.write("new\n")  # "current" + "new\n" would pass 10 bytes
    assert file.rotated == (4, 2, 1)
    file.close()
    assert {p.name: p.read_text() for p in tmp_path.iterdir()} == {
        "a.log": "new\n", "a.log.1": "current", "a.log.2": "one", "a.log.4": "three",
        "a.log.01": "not ours", "a.log.1.gz": "not ours", "b.log.1": "another agent's",
    }


def test_keep_0_leaves_no_rotated_file(tmp_path: Path) -> None:
    (tmp_path / "a.log.1").write_text("from a run that kept some")
    file = RotatingFile(tmp_path / "a.log", max_size=10, keep=0)
    file.write("123456789\n")
    file.write("abc\n")
    file.close()
    assert [p.name for p in tmp_path.iterdir()] == ["a.log"]
    assert (tmp_path / "a.log").read_text() == "abc\n"


def test_a_rotated_file_deleted_meanwhile_does_not_end_the_log(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    file = RotatingFile(path, max_size=10, keep=3)
    for text in ("first\n", "second\n", "third\n"):
        file.write(text)
    (tmp_path / "a.log.2").unlink()
    file.write("fourth\n")
    file.close()
    assert {p.name: p.read_text() for p in tmp_path.iterdir()} == {
        "a.log": "fourth\n", "a.log.1": "third\n", "a.log.2": "second\n",
    }


def test_rotated_numbers_ignores_names_no_rotation_makes(tmp_path: Path) -> None:
    for name in ("a.log", "a.log.2", "a.log.10", "a.log.0", "a.log.x", "a.log.",
                 "a.log.\u0661", "a.log." + "9" * 30, "xa.log.3", "a.log2"):
        (tmp_path / name).write_text("")
    assert rotated_numbers(tmp_path / "a.log") == [10, 2]


def _job_with_keep(keep: str) -> str:
    return (f"job: {{name: j}}\ndeployment: {{logs: {{dir: l, keep: {keep}}}}}\n"
            "agents: [{id: a, command: x, config: {port: 1}}]\ntopology: {type: dynamic}\n")


@pytest.mark.parametrize(("keep", "expected"), [("0", 0), ("1000", 1000), ("3.0", 3)])
def test_keep_up_to_1000_is_accepted(keep: str, expected: int) -> None:
    job = load_text(_job_with_keep(keep), "job.yaml", base_dir=Path("."),
                    import_check=False).definition
    effective = settings.log_files(job, job.agent("a"))
    assert effective is not None and effective.keep == expected


@pytest.mark.parametrize(("keep", "message"), [
    ("1001", "should be at most 1000 rotated files, not 1001"),
    ("1000000000", "should be at most 1000 rotated files, not 1000000000"),
    ("-1", "should be greater than or equal to 0"),
    ("'3'", "should be a whole number, not '3'"),
    ("true", "should be a whole number, not True"),
])
def test_keep_past_1000_or_not_a_count_is_an_error(keep: str, message: str) -> None:
    from agentsup.job.problems import JobFileError

    with pytest.raises(JobFileError) as caught:
        load_text(_job_with_keep(keep), "job.yaml", base_dir=Path("."), import_check=False)
    assert caught.value.render().splitlines() == [
        f"job.yaml:2:35: deployment.logs.keep: {message}",
    ]


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


@pytest.mark.integration
def test_a_line_over_64_kib_is_written_in_marked_pieces(tmp_path: Path) -> None:
    """Every piece but the last says `stdout+`; joined, they are the line as written."""
    import sys

    from tests.clirun import TEST_AGENT

    (port,) = free_ports(1)
    long_line = "x" * 150_000 + "END"
    agent = agent_entry("long", port)
    agent["command"] = [
        sys.executable, "-c",
        f"print('x' * 150_000 + 'END', flush=True); import runpy, sys; "
        f"sys.argv = [{str(TEST_AGENT)!r}]; runpy.run_path(sys.argv[0], run_name='__main__')",
    ]
    job = write_job_document(tmp_path, [agent], {"type": "dynamic"}, name="long",
                             logs={"dir": "logs"})
    with supervisor(job) as running:
        running.wait_for("job.ready")
        running.wait_for("agent.output", where=lambda e: e.get("continued") is False)
        running.signal(signal.SIGTERM)
        assert running.wait() == 0
    lines = (tmp_path / "logs" / "long" / "long.log").read_text().splitlines()
    piece = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (stdout\+?) (.*)")
    matches = [piece.fullmatch(line) for line in lines]
    assert all(matches), [line[:80] for line in lines]
    pieces = [(m.group(1), m.group(2)) for m in matches if m][:3]
    assert [stream for stream, _ in pieces] == ["stdout+", "stdout+", "stdout"]
    assert [len(text) for _, text in pieces] == [65536, 65536, len(long_line) - 2 * 65536]
    assert "".join(text for _, text in pieces) == long_line
