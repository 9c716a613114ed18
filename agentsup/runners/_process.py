"""One local agent process as the hub sees it: how it is forked, signalled and reaped.

The hub (`_hub.py`) runs the selector loop; this module holds what belongs to a single
process: how it is started (no code between fork and exec, so vfork can be used; the
parent-death signal only as the fallback when the reaper cannot run), its
`ProcessHandle` (signals and reaping under one lock), and the reaping of the processes
that escaped its group (`programs/reaper.py` finds them in /proc).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import cast

import msgspec

from agentsup.programs import reaper as _reaper
from agentsup.runners.base import ExitCallback, ExitStatus, OutputCallback, RunnerError, Stream
from agentsup.runners.lines import LineSplitter

logger = logging.getLogger(__name__)

MARK_VARIABLE = _reaper.MARK_VARIABLE
"""The environment variable that marks every process of one agent launch."""

_SCANS = _reaper.SharedScan()

_PR_SET_PDEATHSIG = 1
_SIGKILL = int(signal.SIGKILL)

NO_PIDFD = -1
_pidfds_missing = False


def open_pidfd(pid: int) -> int:
    """A pidfd for our own child `pid`, or `NO_PIDFD` where this kernel (or this
    Python) has none; the first such answer is remembered. Other errors (out of
    descriptors) are raised: the caller cannot watch the process.

    Linux 4.18 (RHEL 8 and its rebuilds) and 4.19 (Debian 10) are still run, and
    Python built against their headers lacks `os.pidfd_open` altogether. There the hub
    looks for exits itself (`_hub`), and a leader that left its group is signalled by
    pid, which is safe for a child not yet reaped: its pid cannot be anyone else's."""
    global _pidfds_missing
    if _pidfds_missing:
        return NO_PIDFD
    opener = getattr(os, "pidfd_open", None)
    if opener is None:
        _pidfds_missing = True
        return NO_PIDFD
    try:
        return int(opener(pid))
    except OSError as exc:
        if exc.errno not in _reaper.PIDFDS_REFUSED:
            raise
        _pidfds_missing = True
        return NO_PIDFD


def has_exited(pid: int) -> bool:
    """Whether our child `pid` has exited (it is not reaped by this look); True if it
    is no longer ours to wait for, which `ProcessHandle._reap` reports."""
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


@functools.cache
def _resolve_prctl() -> Callable[..., int] | None:
    """Look prctl up in the parent (symbol lookup after fork is not safe), the first
    time a launch needs it: only when the reaper cannot run, so ctypes is not loaded
    before the first agent on every start. Only the hub thread asks."""
    import ctypes

    try:
        function = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong,
                         ctypes.c_ulong]
    function.restype = ctypes.c_int
    return cast("Callable[..., int]", function)


def child_setup(parent_pid: int, prctl: Callable[..., int] | None) -> None:
    """Runs in the forked child before exec, so it must not take locks; `prctl` was
    looked up in the parent."""
    if prctl is not None:
        prctl(_PR_SET_PDEATHSIG, _SIGKILL, 0, 0, 0)
    # The supervisor may have died between fork and prctl; the signal would never come.
    if os.getppid() != parent_pid:
        os._exit(127)


class StreamReader:
    __slots__ = ("closed", "fd", "name", "splitter")

    def __init__(self, fd: int, name: Stream) -> None:
        self.fd = fd
        self.name: Stream = name
        self.splitter = LineSplitter()
        self.closed = False


class ProcessHandle:
    """What callers keep of a spawned process: its pid, its group, its exit.

    Signals and reaping share one lock. Until the leader is reaped its pid, and so its
    group id, cannot be reused, so holding the lock while signalling guarantees the
    signal reaches this agent and never a stranger that inherited the number.
    """

    def __init__(
        self,
        popen: subprocess.Popen[bytes],
        pidfd: int,
        streams: Sequence[StreamReader],
        on_output: OutputCallback,
        on_exit: ExitCallback,
        hub_thread: threading.Thread,
        mark: bytes = b"",
    ) -> None:
        self.pid = popen.pid
        self.mark = mark
        self._popen = popen
        self._pidfd = pidfd
        self._streams = tuple(streams)
        self._on_output = on_output
        self._on_exit = on_exit
        self._hub_thread = hub_thread
        self._lock = threading.Lock()
        self._reaped = False
        self._exited = threading.Event()
        self._status: ExitStatus | None = None
        self._output_failures = 0

    @property
    def exited(self) -> bool:
        """True once the exit has been reported to the exit callback."""
        return self._exited.is_set()

    @property
    def running(self) -> bool:
        """False from the moment the process is reaped, even before its exit is reported.

        This is what lets an exit callback start the agent again.
        """
        return not self._reaped

    @property
    def exit_status(self) -> ExitStatus | None:
        return self._status

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the exit has been reported; False if `timeout` ran out first.

        On the hub thread (inside a callback) it cannot wait, only answer whether the
        process is gone.
        """
        if not self._exited.is_set() and threading.current_thread() is self._hub_thread:
            if self._reaped:
                return True
            raise RuntimeError(
                "cannot wait for a local process from an output or exit callback: "
                "the exit is delivered by the very thread that would be waiting"
            )
        return self._exited.wait(timeout)

    def signal_group(self, sig: int) -> None:
        """Send `sig` to the process's group; a no-op once the process is gone."""
        with self._lock:
            if self._reaped:
                return
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, sig)
            # The leader may have moved itself to another group (setsid, setpgid);
            # it must still get the signal.
            try:
                left_group = os.getpgid(self.pid) != self.pid
            except ProcessLookupError:
                left_group = False
            if left_group:
                self._signal_leader(sig)
            if sig != signal.SIGKILL:
                # A SIGKILLed leader is reaped at once, and reaping SIGKILLs whatever
                # escaped: one scan per batch of exits instead of one per kill.
                self._signal_escaped(sig, time.monotonic())

    def _signal_leader(self, sig: int) -> None:
        """Signal the leader itself; called with the lock held and before the reap,
        so its pid is still its own even where no pidfd could be had."""
        if self._pidfd != NO_PIDFD:
            try:
                signal.pidfd_send_signal(self._pidfd, sig)
                return
            except ProcessLookupError:
                return
            except OSError as exc:
                if exc.errno not in _reaper.PIDFDS_REFUSED:
                    raise
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, sig)

    def _signal_escaped(self, sig: int, since: float) -> None:
        """Signal the agent's processes that left its group (setsid daemons, helpers).

        They are looked up in a /proc scan taken no earlier than `since`.
        """
        try:
            procs = _SCANS.since(since)
            _reaper.signal_procs(_reaper.escaped(self.pid, self.mark, procs), sig)
        except OSError as exc:
            logger.warning("looking for processes of pid %d failed: %s", self.pid, exc)

    def _reap(self, seen_at: float) -> ExitStatus:
        """Reap the leader, which was seen exited at `seen_at` (monotonic).

        Any scan taken after that moment already shows everything the leader left;
        exits seen together share one scan.
        """
        with self._lock:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, signal.SIGKILL)
            self._signal_escaped(signal.SIGKILL, seen_at)
            try:
                _, raw = os.waitpid(self.pid, 0)
            except ChildProcessError:
                # Someone else reaped it (waitpid(-1) elsewhere, or SIGCHLD ignored).
                logger.warning("exit status of local process %d was lost", self.pid)
                status = ExitStatus(exit_code=None)
                self._popen.returncode = -1
            else:
                code = os.waitstatus_to_exitcode(raw)
                if code < 0:
                    status = ExitStatus(exit_code=None, signal=-code)
                else:
                    status = ExitStatus(exit_code=code)
                # Keeps Popen from ever polling this pid again, possibly reused by then.
                self._popen.returncode = code
            self._reaped = True
            return status


class SpawnRequest(msgspec.Struct):
    argv: tuple[str, ...]
    env: Mapping[str, str]
    cwd: Path
    on_output: OutputCallback
    on_exit: ExitCallback
    future: Future[ProcessHandle] = msgspec.field(default_factory=Future)


def describe_launch_error(request: SpawnRequest, exc: OSError) -> str:
    program = request.argv[0]
    reason = exc.strerror or str(exc)
    if exc.filename is not None and str(exc.filename) == str(request.cwd):
        return f"cannot run {program!r} in '{request.cwd}': {reason}"
    return f"cannot run {program!r}: {reason}"


def fork_agent(
    request: SpawnRequest, env: Mapping[str, str], *, parent_death: bool = False
) -> tuple[subprocess.Popen[bytes], int, int]:
    """Start one agent as the leader of a new session (and so of a new process group);
    returns it with the read ends of its stdout and stderr pipes.

    A session of its own means no controlling terminal. In agentsup's session an agent
    could open the terminal `agentsup start` runs in: write over the live view, or ask
    it a question as `git`, `ssh` or `sudo` ask for a password, and that read would
    stop the agent (SIGTTIN, it is not the foreground job) so that it never became
    ready. It also gives each agent its own share of the CPU where the kernel groups
    tasks by session (autogroup), as honcho and supervisord do; in one session with
    agentsup, a whole job shared one share with every other program the user runs.

    Normally no code runs in the child between fork and exec, so `subprocess` can use
    vfork: about 1.7 ms a spawn here against 12 ms for a fork that runs a `preexec_fn`,
    and spawns are serialized, so at 200 agents that is 0.35 s against 2.4 s. The reaper
    ends the agents if the supervisor dies. Only when the reaper cannot run does
    `parent_death` set the kernel's parent-death signal instead, which needs a fork; it
    fires when the forking thread ends, so this must run on the hub thread, which lives
    as long as the agents it watches.
    """
    fds: list[int] = []
    try:
        out_read, out_write = os.pipe()
        fds += (out_read, out_write)
        err_read, err_write = os.pipe()
        fds += (err_read, err_write)
        popen = subprocess.Popen(
            request.argv,
            stdin=subprocess.DEVNULL,
            stdout=out_write,
            stderr=err_write,
            env=env,
            cwd=request.cwd,
            close_fds=True,
            start_new_session=True,
            preexec_fn=(functools.partial(child_setup, os.getpid(), _resolve_prctl())
                        if parent_death else None),
        )
    except OSError as exc:
        for fd in fds:
            os.close(fd)
        raise RunnerError(describe_launch_error(request, exc)) from exc
    except subprocess.SubprocessError as exc:
        for fd in fds:
            os.close(fd)
        raise RunnerError(f"cannot run {request.argv[0]!r}: {exc}") from exc
    os.close(out_write)
    os.close(err_write)
    return popen, out_read, err_read
