"""LocalRunner against real processes: output, exits, stopping, groups, parent death."""

from __future__ import annotations

import os
import re
import selectors
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentsup.runners.base import ExitStatus, LaunchSpec, RunnerError, Stream
from agentsup.runners.local import FDS_PER_AGENT, LocalHub, LocalRunner

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

REPO_ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable


class Recorder:
    """Collects what a runner reports, with events to wait on instead of sleeping."""

    def __init__(self) -> None:
        self.lines: list[tuple[Stream, str]] = []
        self.exits: list[ExitStatus] = []
        self.exit_times: list[float] = []
        self.lines_at_exit: list[int] = []
        self.exited = threading.Event()
        self._lock = threading.Lock()
        self._line_waiters: list[tuple[int, threading.Event]] = []

    def on_output(
        self, stream: Stream, line: str, part: int | None = None, continued: bool = False
    ) -> None:
        with self._lock:
            self.lines.append((stream, line))
            for count, event in self._line_waiters:
                if len(self.lines) >= count:
                    event.set()

    def on_exit(self, status: ExitStatus) -> None:
        self.exit_times.append(time.monotonic())
        self.lines_at_exit.append(len(self.lines))
        self.exits.append(status)
        self.exited.set()

    def stream(self, name: Stream) -> list[str]:
        return [line for stream, line in self.lines if stream == name]

    def wait_lines(self, count: int, timeout: float = 10.0) -> None:
        event = threading.Event()
        with self._lock:
            if len(self.lines) >= count:
                return
            self._line_waiters.append((count, event))
        assert event.wait(timeout), f"only {len(self.lines)} of {count} lines arrived"

    def wait_exit(self, timeout: float = 10.0) -> ExitStatus:
        assert self.exited.wait(timeout), "no exit reported"
        return self.exits[-1]


def spec(*argv: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> LaunchSpec:
    return LaunchSpec(agent_id="test", argv=argv, env=env or {}, cwd=cwd or Path.cwd())


def python(code: str) -> tuple[str, ...]:
    return (PY, "-c", textwrap.dedent(code))


def alive(pid: int) -> bool:
    """True if the pid runs; zombies count as gone (PID 1 here may never reap them)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    state = stat.rsplit(")", 1)[1].split()[0]
    return state not in ("Z", "X")


def wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.fixture(scope="module")
def hub() -> Iterator[LocalHub]:
    """One hub for the module's runners, as the local backend holds one for a job."""
    owned = LocalHub()
    yield owned
    owned.close()


@pytest.fixture
def runners() -> Iterator[list[LocalRunner]]:
    """Runners a test creates; anything still running afterwards is killed and reaped."""
    created: list[LocalRunner] = []
    yield created
    for runner in created:
        runner.stop(0)


@pytest.fixture
def runner(runners: list[LocalRunner], hub: LocalHub) -> LocalRunner:
    created = LocalRunner(hub)
    runners.append(created)
    return created


# -- output -------------------------------------------------------------------------


def test_lines_arrive_per_stream_in_order(runner: LocalRunner) -> None:
    rec = Recorder()
    runner.start(
        spec(
            *python(
                r"""
                import sys
                out, err = sys.stdout.buffer, sys.stderr.buffer
                out.write(b"one\n"); out.flush()
                err.write(b"e1\n"); err.flush()
                out.write(b"two\r\nthr"); out.flush()
                out.write(b"ee\n\n"); out.flush()
                err.write(b"bad \xff\xfe utf8\n"); err.flush()
                out.write("caf\u00e9\n".encode()[:4]); out.flush()
                out.write("caf\u00e9\n".encode()[4:]); out.flush()
                err.write(b"e-last-no-newline"); err.flush()
                out.write(b"last without newline")
                """
            )
        ),
        rec.on_output,
        rec.on_exit,
    )
    assert rec.wait_exit() == ExitStatus(exit_code=0)
    assert rec.stream("stdout") == ["one", "two", "three", "", "café", "last without newline"]
    assert rec.stream("stderr") == ["e1", "bad \ufffd\ufffd utf8", "e-last-no-newline"]
    assert rec.lines_at_exit == [len(rec.lines)], "output arrived after the exit"


def test_burst_of_200k_lines_arrives_complete_and_in_order(runner: LocalRunner) -> None:
    rec = Recorder()
    count = 200_000
    runner.start(
        spec(
            *python(
                f"""
                import sys
                sys.stdout.write("".join(f"{{i}}\\n" for i in range({count})))
                sys.stderr.write("done\\n")
                """
            )
        ),
        rec.on_output,
        rec.on_exit,
    )
    rec.wait_exit(30)
    assert rec.stream("stdout") == [str(i) for i in range(count)]
    assert rec.stream("stderr") == ["done"]
    assert rec.lines_at_exit == [count + 1]


def test_very_long_line_is_split_at_64_kib(runner: LocalRunner) -> None:
    rec = Recorder()
    # 'é' is two bytes: a 64 KiB cut through the middle of one must be avoided.
    runner.start(
        spec(*python('import sys; sys.stdout.write("x" + "é" * 100_000 + "\\nafter\\n")')),
        rec.on_output,
        rec.on_exit,
    )
    rec.wait_exit()
    pieces = rec.stream("stdout")
    assert pieces[-1] == "after"
    assert "".join(pieces[:-1]) == "x" + "é" * 100_000
    assert len(pieces) == 5
    assert all(len(piece.encode()) <= 64 * 1024 for piece in pieces)
    assert "\ufffd" not in "".join(pieces)


# -- exits --------------------------------------------------------------------------


def test_exit_code_is_reported(runner: LocalRunner) -> None:
    rec = Recorder()
    runner.start(spec("sh", "-c", "exit 7"), rec.on_output, rec.on_exit)
    status = rec.wait_exit()
    assert status == ExitStatus(exit_code=7)
    assert not status.success


def test_exit_by_signal_is_reported(runner: LocalRunner) -> None:
    rec = Recorder()
    runner.start(spec("sh", "-c", "kill -USR1 $$"), rec.on_output, rec.on_exit)
    assert rec.wait_exit() == ExitStatus(exit_code=None, signal=signal.SIGUSR1)
    assert len(rec.exits) == 1


def test_exit_is_reported_promptly_after_kill_9(runner: LocalRunner) -> None:
    rec = Recorder()
    info = runner.start(spec("sleep", "1000"), rec.on_output, rec.on_exit)
    killed_at: list[float] = []

    def assassin() -> None:
        killed_at.append(time.monotonic())
        os.kill(info.pid, signal.SIGKILL)

    thread = threading.Thread(target=assassin)
    thread.start()
    thread.join()
    assert rec.wait_exit() == ExitStatus(exit_code=None, signal=signal.SIGKILL)
    latency = rec.exit_times[0] - killed_at[0]
    print(f"exit detection latency after kill -9: {latency * 1000:.2f} ms")
    assert latency < 0.5


# -- stopping -----------------------------------------------------------------------

# Leader and grandchild both ignore SIGTERM (SIG_IGN survives fork and exec).
STUBBORN_AGENT = """
import signal, subprocess, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
child = subprocess.Popen(["sleep", "1000"])
print(child.pid, flush=True)
time.sleep(1000)
"""

# The leader exits on SIGTERM, its grandchild ignores it.
ABANDONING_AGENT = """
import signal, subprocess, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
child = subprocess.Popen(["sleep", "1000"])
signal.signal(signal.SIGTERM, signal.SIG_DFL)
print(child.pid, flush=True)
time.sleep(1000)
"""


def test_stop_escalates_to_sigkill_and_takes_the_grandchild(runner: LocalRunner) -> None:
    rec = Recorder()
    runner.start(spec(*python(STUBBORN_AGENT)), rec.on_output, rec.on_exit)
    rec.wait_lines(1)
    grandchild = int(rec.stream("stdout")[0])
    assert alive(grandchild)

    started = time.monotonic()
    runner.stop(0.5)
    elapsed = time.monotonic() - started

    assert rec.exited.is_set(), "stop returned before the exit was reported"
    assert rec.exits == [ExitStatus(exit_code=None, signal=signal.SIGKILL)]
    assert 0.5 <= elapsed < 3.0
    assert wait_gone(grandchild, 2.0)


def test_stop_takes_grandchildren_ignoring_sigterm_after_the_leader_left(
    runner: LocalRunner,
) -> None:
    rec = Recorder()
    runner.start(spec(*python(ABANDONING_AGENT)), rec.on_output, rec.on_exit)
    rec.wait_lines(1)
    grandchild = int(rec.stream("stdout")[0])

    started = time.monotonic()
    runner.stop(10.0)
    assert time.monotonic() - started < 3.0
    assert rec.exits == [ExitStatus(exit_code=None, signal=signal.SIGTERM)]
    assert wait_gone(grandchild, 2.0)


def test_stop_and_kill_are_idempotent_and_thread_safe(runner: LocalRunner) -> None:
    rec = Recorder()
    runner.start(spec("sleep", "1000"), rec.on_output, rec.on_exit)
    threads = [threading.Thread(target=runner.stop, args=(5.0,)) for _ in range(5)]
    threads += [threading.Thread(target=runner.kill) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert rec.wait_exit().signal in (signal.SIGTERM, signal.SIGKILL)
    assert len(rec.exits) == 1

    started = time.monotonic()
    runner.stop(5.0)
    runner.kill()
    assert time.monotonic() - started < 0.1
    assert len(rec.exits) == 1


def test_stop_before_start_and_after_exit_returns_at_once(runner: LocalRunner) -> None:
    runner.stop(5.0)
    runner.kill()
    rec = Recorder()
    runner.start(spec("true"), rec.on_output, rec.on_exit)
    rec.wait_exit()
    started = time.monotonic()
    runner.stop(5.0)
    assert time.monotonic() - started < 0.1


# -- launching ----------------------------------------------------------------------


def test_agent_leads_its_own_process_group(runner: LocalRunner) -> None:
    rec = Recorder()
    info = runner.start(spec("sleep", "1000"), rec.on_output, rec.on_exit)
    assert info.host == "localhost"
    assert os.getpgid(info.pid) == info.pid
    assert os.getpgid(info.pid) != os.getpgid(0)


def test_env_overlay_and_cwd_are_applied(runner: LocalRunner, tmp_path: Path) -> None:
    rec = Recorder()
    os.environ["AGENTSUP_TEST_INHERITED"] = "from-parent"
    try:
        runner.start(
            spec(
                "sh",
                "-c",
                'echo "$AGENT_X|$AGENTSUP_TEST_INHERITED|$HOME"; pwd; cat',
                env={"AGENT_X": "overlay", "HOME": "/overridden"},
                cwd=tmp_path,
            ),
            rec.on_output,
            rec.on_exit,
        )
    finally:
        del os.environ["AGENTSUP_TEST_INHERITED"]
    # `cat` returning at once shows stdin is /dev/null.
    assert rec.wait_exit(5) == ExitStatus(exit_code=0)
    assert rec.stream("stdout") == ["overlay|from-parent|/overridden", str(tmp_path)]


def test_missing_executable_raises_runner_error(runner: LocalRunner, tmp_path: Path) -> None:
    rec = Recorder()
    with pytest.raises(RunnerError, match="cannot run 'no-such-agent-binary': No such file"):
        runner.start(spec("no-such-agent-binary"), rec.on_output, rec.on_exit)
    not_executable = tmp_path / "agent.sh"
    not_executable.write_text("#!/bin/sh\n")
    with pytest.raises(RunnerError, match=r"cannot run '.*agent\.sh': Permission denied"):
        runner.start(spec(str(not_executable)), rec.on_output, rec.on_exit)
    with pytest.raises(RunnerError, match="empty command"):
        runner.start(spec(), rec.on_output, rec.on_exit)
    assert not rec.exits


def test_bad_cwd_raises_runner_error(runner: LocalRunner, tmp_path: Path) -> None:
    rec = Recorder()
    missing = tmp_path / "missing"
    with pytest.raises(RunnerError, match=re.escape(f"'true' in '{missing}': No such file")):
        runner.start(spec("true", cwd=missing), rec.on_output, rec.on_exit)


def test_start_while_running_is_refused(runner: LocalRunner) -> None:
    rec = Recorder()
    runner.start(spec("sleep", "1000"), rec.on_output, rec.on_exit)
    with pytest.raises(RunnerError, match="still running"):
        runner.start(spec("sleep", "1000"), rec.on_output, rec.on_exit)


def test_restart_after_exit(runner: LocalRunner) -> None:
    first, second = Recorder(), Recorder()
    info1 = runner.start(spec("sh", "-c", "echo first; exit 1"), first.on_output, first.on_exit)
    assert first.wait_exit() == ExitStatus(exit_code=1)
    info2 = runner.start(spec("sh", "-c", "echo second"), second.on_output, second.on_exit)
    assert second.wait_exit() == ExitStatus(exit_code=0)
    assert info1.pid != info2.pid
    assert first.stream("stdout") == ["first"]
    assert second.stream("stdout") == ["second"]
    assert len(first.exits) == 1


def test_restart_from_the_exit_callback(runner: LocalRunner) -> None:
    """A callback runs on the hub thread; starting from there must not deadlock."""
    rec = Recorder()
    restarted = threading.Event()

    def on_exit(status: ExitStatus) -> None:
        if not restarted.is_set():
            restarted.set()
            runner.start(spec("sh", "-c", "echo again"), rec.on_output, rec.on_exit)

    runner.start(spec("true"), rec.on_output, on_exit)
    assert restarted.wait(5)
    assert rec.wait_exit() == ExitStatus(exit_code=0)
    assert rec.stream("stdout") == ["again"]


def test_failing_callbacks_do_not_stop_the_hub(runner: LocalRunner) -> None:
    def bad_output(stream: Stream, line: str) -> None:
        raise ValueError("output callback bug")

    def bad_exit(status: ExitStatus) -> None:
        raise ValueError("exit callback bug")

    runner.start(spec("sh", "-c", "echo a; echo b"), bad_output, bad_exit)
    runner.stop(5.0)  # returns once the (failing) exit callback has run

    rec = Recorder()
    runner.start(spec("sh", "-c", "echo fine"), rec.on_output, rec.on_exit)
    assert rec.wait_exit() == ExitStatus(exit_code=0)
    assert rec.stream("stdout") == ["fine"]


# -- scale --------------------------------------------------------------------------


def _pidfds_here() -> bool:
    try:
        os.close(os.pidfd_open(os.getpid()))
    except (AttributeError, OSError):
        return False
    return True


def test_hundreds_of_agents_share_one_thread_and_three_fds_each(
    runners: list[LocalRunner], hub: LocalHub
) -> None:
    warmup = LocalRunner(hub)
    runners.append(warmup)
    rec = Recorder()
    warmup.start(spec("true"), rec.on_output, rec.on_exit)
    rec.wait_exit()
    fds_before, threads_before = open_fds(), threading.active_count()

    count = 250
    recorders = [Recorder() for _ in range(count)]
    for index, agent_rec in enumerate(recorders):
        agent = LocalRunner(hub)
        runners.append(agent)
        agent.start(
            spec("sh", "-c", 'echo "up $0"; exec sleep 60', str(index)),
            agent_rec.on_output,
            agent_rec.on_exit,
        )
    for index, agent_rec in enumerate(recorders):
        agent_rec.wait_lines(1)
        assert agent_rec.lines == [("stdout", f"up {index}")]

    # Where the kernel has no pidfds (tests/oldkernel.py), the hub holds two pipes only.
    per_agent = FDS_PER_AGENT if _pidfds_here() else FDS_PER_AGENT - 1
    assert open_fds() - fds_before == per_agent * count
    assert threading.active_count() == threads_before

    started = time.monotonic()
    for agent in runners[1:]:
        agent.kill()
    for agent_rec in recorders:
        assert agent_rec.wait_exit() == ExitStatus(exit_code=None, signal=signal.SIGKILL)
    print(f"{count} exits reported in {time.monotonic() - started:.3f} s")
    assert open_fds() == fds_before


# -- supervisor lifetime ------------------------------------------------------------

AGENT_WITH_GRANDCHILD = """
import signal, subprocess, sys, time
if sys.argv[1] == "ignore-term":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
child = subprocess.Popen(["sleep", "1000"])
print("grandchild", child.pid, flush=True)
time.sleep(1000)
"""

DRIVER = """
import os, sys, time
from pathlib import Path
from agentsup.runners.base import LaunchSpec
from agentsup.runners.local import LocalHub, LocalRunner
from agentsup.runners._reaper_link import ReaperLink

if os.environ.get("DRIVER_NO_REAPER"):
    # Stands in for a reaper that cannot be started (no way to make the real start fail
    # here as root): the hub must fall back to the kernel's parent-death signal.
    ReaperLink._start = lambda self: False

def relay(stream, line, part=None, continued=False):
    print(line, flush=True)

runner = LocalRunner(LocalHub())
info = runner.start(
    LaunchSpec("a", (sys.executable, "-c", sys.argv[1], sys.argv[2]), {}, Path.cwd()),
    relay,
    lambda status: None,
)
print("leader", info.pid, flush=True)
time.sleep(1000)
"""


def read_pids(stream: object, names: set[str], timeout: float) -> dict[str, int]:
    assert hasattr(stream, "fileno") and hasattr(stream, "readline")
    found: dict[str, int] = {}
    with selectors.DefaultSelector() as selector:
        selector.register(stream.fileno(), selectors.EVENT_READ)
        deadline = time.monotonic() + timeout
        while set(found) != names:
            assert selector.select(deadline - time.monotonic()), f"got only {found}"
            line = stream.readline()
            assert line, f"driver ended early, got only {found}"
            name, pid = line.split()
            found[name] = int(pid)
    return found


@pytest.mark.parametrize("grandchild_mode", ["default", "ignore-term"])
def test_agents_die_with_a_sigkilled_supervisor(grandchild_mode: str) -> None:
    driver = subprocess.Popen(
        [PY, "-c", DRIVER, textwrap.dedent(AGENT_WITH_GRANDCHILD), grandchild_mode],
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    try:
        assert driver.stdout is not None
        pids = read_pids(driver.stdout, {"leader", "grandchild"}, timeout=20)
        assert alive(pids["leader"]) and alive(pids["grandchild"])

        driver.kill()
        driver.wait()
        killed = time.monotonic()
        for name in ("leader", "grandchild"):
            assert wait_gone(pids[name], 5.0), f"{name} outlived the supervisor"
        print(f"{grandchild_mode}: agents gone {time.monotonic() - killed:.2f} s after kill")
    finally:
        driver.kill()
        driver.wait()
        if driver.stdout is not None:
            driver.stdout.close()


def test_without_a_reaper_the_leader_still_dies_with_a_sigkilled_supervisor() -> None:
    driver = subprocess.Popen(
        [PY, "-c", DRIVER, textwrap.dedent(AGENT_WITH_GRANDCHILD), "default"],
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT), "DRIVER_NO_REAPER": "1"},
    )
    grandchild = 0
    try:
        assert driver.stdout is not None
        pids = read_pids(driver.stdout, {"leader", "grandchild"}, timeout=20)
        grandchild = pids["grandchild"]
        assert reaper_pids_of(driver.pid) == []
        driver.kill()
        driver.wait()
        # Only the leader carries the parent-death signal; its child is the reaper's job.
        assert wait_gone(pids["leader"], 5.0), "the leader outlived the supervisor"
    finally:
        driver.kill()
        driver.wait()
        if grandchild and alive(grandchild):
            os.kill(grandchild, signal.SIGKILL)
        if driver.stdout is not None:
            driver.stdout.close()


def reaper_pids() -> list[int]:
    return reaper_pids_of(os.getpid())


def reaper_pids_of(supervisor: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == supervisor and b"programs/reaper.py" in cmdline and alive(int(entry.name)):
            found.append(int(entry.name))
    return found


def test_closing_the_hub_kills_leftovers_and_ends_the_reaper(
    runner: LocalRunner, hub: LocalHub
) -> None:
    rec = Recorder()
    info = runner.start(spec("sleep", "1000"), rec.on_output, rec.on_exit)
    assert len(reaper_pids()) == 1

    hub.close(timeout=10)

    assert rec.exits == [ExitStatus(exit_code=None, signal=signal.SIGKILL)]
    assert not alive(info.pid)
    assert reaper_pids() == []
    assert "agentsup-local-hub" not in {thread.name for thread in threading.enumerate()}

    again = Recorder()
    runner.start(spec("sh", "-c", "echo back"), again.on_output, again.on_exit)
    assert again.wait_exit() == ExitStatus(exit_code=0)
    assert again.stream("stdout") == ["back"]


def test_agent_inherits_no_supervisor_descriptors(runner: LocalRunner) -> None:
    """In particular not the reaper's stdin, which would defeat the death notice."""
    rec = Recorder()
    runner.start(
        spec(*python("import os; print(sorted(int(fd) for fd in os.listdir('/proc/self/fd')))")),
        rec.on_output,
        rec.on_exit,
    )
    rec.wait_exit()
    # 3 is the directory listdir itself had open.
    assert rec.stream("stdout") == ["[0, 1, 2, 3]"]


def test_start_soon_is_answered_by_the_hub_without_a_thread_of_its_own(
    runner: LocalRunner,
) -> None:
    """The launch is a request to the hub thread, which answers the future itself: no
    launch thread is made (`Runner.start_soon` makes one for targets whose launch
    blocks), and the caller's thread is free at once."""
    rec = Recorder()
    answered_on: list[str] = []
    threads_before = {thread.ident for thread in threading.enumerate()}
    started = runner.start_soon(spec(*python("print('up')")), rec.on_output, rec.on_exit)
    started.add_done_callback(lambda _: answered_on.append(threading.current_thread().name))
    info = started.result(timeout=10)
    assert info.pid > 0 and runner.pid == info.pid
    new = [thread.name for thread in threading.enumerate()
           if thread.ident not in threads_before]
    assert not [name for name in new if name.startswith("launch-")]
    assert rec.wait_exit().exit_code == 0
    assert rec.stream("stdout") == ["up"]
    # Answered on the hub thread, or here if it was answered before the callback was
    # added: never on a thread made for the launch.
    assert answered_on[0] in ("agentsup-local-hub", threading.current_thread().name)


def test_start_soon_answers_a_failed_launch_and_a_second_start_with_an_error(
    runner: LocalRunner, tmp_path: Path,
) -> None:
    rec = Recorder()
    failed = runner.start_soon(spec(str(tmp_path / "nothing-here")), rec.on_output,
                               rec.on_exit)
    error = failed.exception(timeout=10)
    assert isinstance(error, RunnerError) and "cannot run" in str(error)
    assert not rec.exited.is_set()  # nothing ran, so no exit is reported
    first = runner.start_soon(spec(*python("import time; time.sleep(30)")), rec.on_output,
                              rec.on_exit)
    second = runner.start_soon(spec(*python("pass")), rec.on_output, rec.on_exit)
    error = second.exception(timeout=10)
    assert isinstance(error, RunnerError) and "still running" in str(error)
    assert alive(first.result(timeout=10).pid)
    runner.stop(0)
    assert rec.wait_exit().signal in (signal.SIGTERM, signal.SIGKILL)
