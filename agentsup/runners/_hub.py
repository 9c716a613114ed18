"""One I/O thread for every local agent process in this supervisor.

A thread per agent (or two, one per pipe) stops scaling long before a few hundred
agents, and polling for exits adds latency. Instead a single daemon thread owns an
epoll set holding, for every live process, its stdout and stderr read ends and a pidfd.
A pidfd becomes readable the instant its process exits, so exits are reported without
polling and without SIGCHLD handlers. Where the kernel has no pidfds (before Linux 5.3,
as on RHEL 8, or where a seccomp profile refuses them), an exit is looked for when the
agent's pipes close and every `EXIT_POLL` seconds (`_process.open_pidfd`).

The same thread also performs every spawn, so a process is registered in the epoll set
and with the reaper by the one thread that watches it. It also matters for the fallback
when the reaper cannot run: `PR_SET_PDEATHSIG` fires when the *thread* that forked a
child exits, not the process, so spawning from callers' short-lived threads would kill
agents as soon as those threads ended. Callers hand spawn requests over a queue plus an
eventfd and block on a `Future`.

Cost per live agent: 3 file descriptors (two pipe read ends and a pidfd) and no thread.
Shared by all agents: one thread, an epoll fd, an eventfd, /proc/loadavg (`_pacing`),
the write end of the reaper's stdin, and the reaper process. A spawn briefly holds up
to 5 more fds (the pipes' write ends, /dev/null, and subprocess's error pipe); spawns
are serialized on the hub thread, so that overhead never multiplies.

Bursts: the requests that arrive together (a stage of many agents) are spawned as cores
come free, and their callers told together, at least every 0.1 s (`_pacing`); until a
burst's last spawn the hub does nothing else (`_HubLoop._spawn_waiting`). A caller is
always told of its spawn before its process's output or exit is passed on.

Flow control: after each read the hub asks the `OutputFlow` of the agent's output
callback (agentsup's stdout) whether to stop reading. While it says so, every pipe
whose agent's output goes there is taken out of the epoll set the next time it is
readable ("parked"), so the agents block on full pipes exactly as they would writing to
a slow reader directly; pidfds and the wake eventfd stay, so exits, spawns and stops go
on at full speed, and an exit still drains the agent's parked pipes before it is
reported. The hub never waits for the writer: the writer wakes it through the eventfd
when its backlog has drained, and the hub asks again when the flow's time is up (the
writer may have stopped, in which case reading goes on and the writer drops).

Ownership: a `LocalHub` belongs to the local backend of one job (`runners/local.py`),
which closes it once every agent has stopped. The loop thread and the reaper start with
the first spawn and stop with `close`; a spawn after `close` starts them afresh.

Process-group policy: when an agent's leader exits, whatever is left of its group is
SIGKILLed before the leader is reaped, and so is every process that escaped the group
(found by the mark in its environment, see `_process` and `programs/reaper.py`).
Leftovers are orphans of a finished agent that nothing could supervise; they would pile
up across restarts, and keeping the group's registration with the reaper until they
happen to go would need polling. Doing it before reaping means the group id cannot have
been reused yet.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import queue
import selectors
import signal
import subprocess
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import cast

from agentsup.runners._pacing import PACE_LOOK, RunnableCount, SpawnPacer
from agentsup.runners._process import (
    MARK_VARIABLE,
    NO_PIDFD,
    ProcessHandle,
    SpawnRequest,
    StreamReader,
    fork_agent,
    has_exited,
    open_pidfd,
)
from agentsup.runners._reaper_link import ReaperLink
from agentsup.runners.base import (
    BatchOutput,
    ExitCallback,
    OutputCallback,
    OutputFlow,
    RunnerError,
    Stream,
    flow_of,
)
from agentsup.runners.lines import LineBatch

logger = logging.getLogger(__name__)

FDS_PER_AGENT = 3
"""Descriptors the supervisor holds for each live local agent."""

_READ_SIZE = 64 * 1024
# After an exit, stop draining a pipe after this many reads: a process outside the
# agent's group may still hold the write end and keep writing forever.
_DRAIN_MAX_READS = 64
EXIT_POLL = 0.25
"""Where the kernel gives no pidfds (before Linux 5.3, or refused by a seccomp
profile), seconds between looks for exits: an exit is seen at once when it closes the
agent's stdout and stderr, within this when something it left holds them open. A look
is one `waitid` while no child has exited, however many agents there are."""


class _HubLoop:
    """The selector loop on its thread; lives from the first spawn until `close`."""

    def __init__(self, runnable: Callable[[], int | None] | None = None) -> None:
        self._selector = selectors.EpollSelector()
        try:
            self._wake_fd = os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK)
        except OSError:
            self._selector.close()
            raise
        self._selector.register(self._wake_fd, selectors.EVENT_READ, self._on_wake)
        self._requests: queue.SimpleQueue[SpawnRequest] = queue.SimpleQueue()
        self._count: RunnableCount | None = None
        if runnable is None:
            runnable = self._count = RunnableCount()
        self._pacer: SpawnPacer[SpawnRequest, ProcessHandle | RunnerError] = SpawnPacer(
            runnable=runnable)
        # Guards `_closing` and the wake fd against being closed under a writer.
        self._state_lock = threading.Lock()
        self._closing = False
        self._procs: set[ProcessHandle] = set()
        self._polled: set[ProcessHandle] = set()
        """Processes without a pidfd, whose exit the loop looks for (`EXIT_POLL`)."""
        self._polled_at = 0.0
        # Wakes from other threads (the stdout writer) need the wake fd still open.
        self._wake_open = True
        # Flow control: the flows that said stop, with when to ask them again, and the
        # pipes taken out of the epoll set meanwhile (fd -> its flow and callback).
        self._held: dict[OutputFlow, float] = {}
        self._parked: dict[int, tuple[OutputFlow, Callable[[], None]]] = {}
        self._selected_at = time.monotonic()
        # Marks every agent's environment, so escaped descendants can be found.
        # os.urandom is what `secrets.token_hex` reads; `secrets` itself would load hashlib
        # and OpenSSL's libcrypto (about 5 ms) before the first agent.
        self._id = os.urandom(6).hex()
        self._launches = 0
        self._reaper = ReaperLink(self._id)
        self._thread = threading.Thread(target=self._run, name="agentsup-local-hub", daemon=True)
        self._thread.start()

    @property
    def closing(self) -> bool:
        return self._closing

    # -- called from any thread ------------------------------------------------------

    def spawn_soon(
        self,
        argv: tuple[str, ...],
        env: Mapping[str, str],
        cwd: Path,
        on_output: OutputCallback,
        on_exit: ExitCallback,
    ) -> Future[ProcessHandle]:
        """Queue the spawn for the hub thread; the future is answered there (at once
        when called from that thread: a callback restarting its agent would otherwise
        wait on itself)."""
        request = SpawnRequest(argv, env, cwd, on_output, on_exit)
        if threading.current_thread() is self._thread:
            self._answer(request)
            return request.future
        with self._state_lock:
            if self._closing:
                raise RunnerError("the local runtime has been shut down")
            self._requests.put(request)
            os.eventfd_write(self._wake_fd, 1)
        return request.future

    def close(self, timeout: float) -> bool:
        """Kill what is still running, wait for the exits, stop the thread and reaper."""
        if threading.current_thread() is self._thread:
            raise RuntimeError("the local runtime cannot be shut down from a callback")
        with self._state_lock:
            if not self._closing:
                self._closing = True
                os.eventfd_write(self._wake_fd, 1)
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def hurry(self) -> None:
        """An agent is being stopped: the burst under way, if any, goes unpaced."""
        self._pacer.hurry()

    def forget_in_child(self) -> None:
        """In a forked copy of the supervisor, let go of the reaper's stdin.

        Otherwise the copy would keep the pipe open and the reaper would not notice
        the real supervisor's death. Runs right after fork: no locks.
        """
        self._reaper.forget_in_child()

    # -- hub thread --------------------------------------------------------------------

    def _run(self) -> None:
        _thread_state.loop = self
        try:
            while not (self._closing and not self._procs):
                events = self._selector.select(self._timeout())
                self._selected_at = time.monotonic()
                if self._polled and self._selected_at - self._polled_at >= EXIT_POLL:
                    self._poll_exits()
                for key, _ in events:
                    try:
                        cast("Callable[[], None]", key.data)()
                    except Exception:
                        logger.exception("local I/O hub: handling an event failed")
                if self._held:
                    try:
                        self._ask_held()
                    except Exception:
                        logger.exception("local I/O hub: resuming held output failed")
                if self._pacer.waiting:  # a hurried burst: its next spawn
                    self._spawn_waiting()
        except BaseException:
            logger.exception("local I/O hub stopped unexpectedly")
        finally:
            self._finish()

    def _finish(self) -> None:
        self._tell(self._pacer.answers(now=True))  # the loop died inside a burst
        with self._state_lock:
            self._closing = True
            self._reject_requests()
            with contextlib.suppress(KeyError, ValueError, OSError):
                self._selector.unregister(self._wake_fd)
            self._wake_open = False
            os.close(self._wake_fd)
        # Only non-empty if the loop died: report what we can rather than leave
        # `stop()` callers waiting for exits nobody will deliver.
        for handle in list(self._procs):
            try:
                handle.signal_group(signal.SIGKILL)
                self._selected_at = time.monotonic()
                self._on_pidfd(handle)
            except Exception:
                logger.exception("local I/O hub: cleaning up pid %d failed", handle.pid)
        self._reaper.close()
        self._selector.close()
        if self._count is not None:
            self._count.close()

    def _reject_requests(self) -> None:
        for request in [*self._pacer.drop_waiting(), *self._queued()]:
            request.future.set_exception(RunnerError("the local runtime has been shut down"))

    def _queued(self) -> Iterator[SpawnRequest]:
        """The requests handed over since the last look, but those cancelled."""
        while True:
            try:
                request = self._requests.get_nowait()
            except queue.Empty:
                return
            if request.future.set_running_or_notify_cancel():
                yield request

    def _on_wake(self) -> None:
        with contextlib.suppress(BlockingIOError):
            os.eventfd_read(self._wake_fd)
        if self._closing:
            self._reject_requests()
            for handle in list(self._procs):
                handle.signal_group(signal.SIGKILL)
            return
        self._take_requests()
        self._spawn_waiting()

    def _take_requests(self) -> None:
        for request in self._queued():
            self._pacer.add(request)

    def _spawn_waiting(self) -> None:
        """Spawn the waiting requests as their turns come (`_pacing`), and tell their
        callers when it is time.

        While a request waits for a core, the hub does nothing but wait, take the
        requests that arrive and spawn, until the burst's last spawn: the agents' output
        stays in their pipes and their exits are reported after it. Reading and handing
        on the output of the agents already up between the spawns (an event and a write
        to stdout each) cost the supervisor a quarter more CPU during a burst, and the
        200-agent start was slower and less even for it (docs/performance.md, item 25).
        A burst lasts at most `PACE_WAIT` and a spawn per request; a close ends it, and
        a stop of an agent hurries it (`hurry`), handling exits between its spawns.

        Every caller of a spawn made is told before this returns, so the hub never
        handles a process's output or exit before its launch has been told.
        """
        while True:
            request = self._pacer.take()
            if request is not None:
                self._pacer.spawned(request, self._attempt(request))
                if self._pacer.hurried:
                    break  # exits first: the loop comes back at once while any wait
                self._tell(self._pacer.answers())
                continue
            if not self._pacer.waiting or self._closing:
                break
            time.sleep(PACE_LOOK)
            self._take_requests()
        self._tell(self._pacer.answers(now=True))

    def _answer(self, request: SpawnRequest) -> None:
        """Spawn at once, unpaced, and answer the request's future."""
        self._tell([(request, self._attempt(request))])

    def _attempt(self, request: SpawnRequest) -> ProcessHandle | RunnerError:
        """Spawn: the handle, or a `RunnerError` (a failure nobody foresaw is logged and
        answered as one too, whichever path the request came by)."""
        try:
            return self._spawn(request)
        except RunnerError as exc:
            return exc
        except Exception as exc:
            logger.exception("local I/O hub: unexpected spawn failure")
            return RunnerError(f"cannot run {request.argv[0]!r}: {exc}")

    @staticmethod
    def _tell(outcomes: Sequence[tuple[SpawnRequest, ProcessHandle | RunnerError]]) -> None:
        for request, outcome in outcomes:
            if isinstance(outcome, RunnerError):
                request.future.set_exception(outcome)
            else:
                request.future.set_result(outcome)

    def _spawn(self, request: SpawnRequest) -> ProcessHandle:
        if not request.argv:
            raise RunnerError("cannot run an empty command")
        if self._closing:
            raise RunnerError("the local runtime has been shut down")
        self._launches += 1
        mark = f"{self._id}.{self._launches}"
        env = {**request.env, MARK_VARIABLE: mark}
        watched = self._reaper.ensure_running()
        popen, out_read, err_read = fork_agent(request, env, parent_death=not watched)
        streams = [StreamReader(out_read, "stdout"), StreamReader(err_read, "stderr")]
        flow = flow_of(request.on_output)
        if flow is not None:
            flow.pace_this_thread()
        registered: list[int] = []
        pidfd = NO_PIDFD
        try:
            pidfd = open_pidfd(popen.pid)
            handle = ProcessHandle(
                popen, pidfd, streams, request.on_output, request.on_exit, self._thread,
                mark.encode(),
            )
            if pidfd == NO_PIDFD:
                self._polled.add(handle)
            else:
                self._selector.register(
                    pidfd, selectors.EVENT_READ, functools.partial(self._on_pidfd, handle)
                )
                registered.append(pidfd)
            for reader in streams:
                os.set_blocking(reader.fd, False)
                self._selector.register(
                    reader.fd,
                    selectors.EVENT_READ,
                    functools.partial(self._on_stream, handle, reader, flow),
                )
                registered.append(reader.fd)
        except OSError as exc:
            self._abandon(popen, pidfd, streams, registered)
            raise RunnerError(f"cannot watch {request.argv[0]!r}: {exc.strerror or exc}") from exc

        self._procs.add(handle)
        self._reaper.register(handle.pid)
        return handle

    def _abandon(
        self,
        popen: subprocess.Popen[bytes],
        pidfd: int,
        streams: Sequence[StreamReader],
        registered: Sequence[int],
    ) -> None:
        """Undo a spawn that cannot be watched; an unwatched agent must not run."""
        for fd in registered:
            self._selector.unregister(fd)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(popen.pid, signal.SIGKILL)
        popen.wait()
        if pidfd >= 0:
            os.close(pidfd)
        for reader in streams:
            os.close(reader.fd)

    def _on_stream(
        self, handle: ProcessHandle, reader: StreamReader, flow: OutputFlow | None
    ) -> None:
        if reader.closed:
            return
        if flow is not None and flow in self._held:
            self._park(reader, flow)
            return
        try:
            data = os.read(reader.fd, _READ_SIZE)
        except BlockingIOError:
            return
        except OSError as exc:
            logger.warning("reading %s of pid %d failed: %s", reader.name, handle.pid, exc)
            data = b""
        if data:
            self._deliver(handle, reader.name, reader.splitter.feed_batch(data))
        else:
            self._close_stream(handle, reader)

    def _drain(self, handle: ProcessHandle, reader: StreamReader) -> None:
        for _ in range(_DRAIN_MAX_READS):
            try:
                data = os.read(reader.fd, _READ_SIZE)
            except (BlockingIOError, OSError):
                return
            if not data:
                return
            self._deliver(handle, reader.name, reader.splitter.feed_batch(data))

    def _close_stream(self, handle: ProcessHandle, reader: StreamReader) -> None:
        if reader.closed:
            return
        reader.closed = True
        self._deliver(handle, reader.name, reader.splitter.finish_batch())
        if self._parked.pop(reader.fd, None) is None:
            self._selector.unregister(reader.fd)
        os.close(reader.fd)
        if (handle in self._polled and all(other.closed for other in handle._streams)
                and has_exited(handle.pid)):
            # Without a pidfd, both pipes closing is the usual sign of an exit.
            self._on_pidfd(handle)

    def _poll_exits(self) -> None:
        """Without pidfds: report the processes that have exited (`EXIT_POLL`).

        One `waitid` for any child, without reaping it, answers for all of them while
        none has exited; a process that is not one of ours (the reaper, say) is only
        found by asking after each of ours in turn."""
        self._polled_at = self._selected_at
        while self._polled:
            try:
                found = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            except ChildProcessError:  # no child left: ours were reaped by someone else
                exited = None
            else:
                if found is None:
                    return  # nothing has exited
                exited = found.si_pid
            ours = [handle for handle in self._polled if handle.pid == exited]
            if not ours:
                for handle in [handle for handle in self._polled if has_exited(handle.pid)]:
                    self._on_pidfd(handle)
                return
            self._on_pidfd(ours[0])  # reaped: the next look finds another exit, if any

    def _on_pidfd(self, handle: ProcessHandle) -> None:
        if handle._reaped:
            return
        status = handle._reap(self._selected_at)
        if handle._pidfd == NO_PIDFD:
            self._polled.discard(handle)
        else:
            with contextlib.suppress(KeyError, ValueError):
                self._selector.unregister(handle._pidfd)
            os.close(handle._pidfd)
        # Everything the leader wrote is already in the pipes; deliver it before the
        # exit so consumers never see output after the exit.
        for reader in handle._streams:
            if not reader.closed:
                self._drain(handle, reader)
                self._close_stream(handle, reader)
        self._procs.discard(handle)
        self._reaper.unregister(handle.pid)
        if handle._output_failures > 1:
            logger.warning(
                "output callback for pid %d failed %d times",
                handle.pid,
                handle._output_failures,
            )
        handle._status = status
        try:
            handle._on_exit(status)
        except Exception:
            logger.exception("exit callback for pid %d failed", handle.pid)
        finally:
            handle._exited.set()

    def _deliver(self, handle: ProcessHandle, stream: Stream, batch: LineBatch) -> None:
        """One call for the whole read when the callback takes batches, else one a line;
        a failing call is logged once and then only counted."""
        if not batch.texts:
            return
        callback = handle._on_output
        if isinstance(callback, BatchOutput):
            try:
                callback.lines(stream, batch)
            except Exception:
                self._output_failed(handle)
            flow = callback.flow
            if flow is not None and flow not in self._held:
                wait = flow.paused()
                if wait is not None:
                    self._hold(flow, wait)
            return
        for line in batch:
            try:
                callback(stream, line.text, line.part, line.continued)
            except Exception:
                self._output_failed(handle)

    # -- flow control (hub thread) -----------------------------------------------------

    def _hold(self, flow: OutputFlow, wait: float) -> None:
        """Stop reading the pipes whose output goes to `flow` (each is parked the next
        time it is readable) until `flow` says otherwise."""
        self._held[flow] = time.monotonic() + wait
        flow.on_drained(self._wake)

    def _park(self, reader: StreamReader, flow: OutputFlow) -> None:
        key = self._selector.unregister(reader.fd)
        self._parked[reader.fd] = (flow, cast("Callable[[], None]", key.data))

    def _timeout(self) -> float | None:
        """How long the selector may wait: until the first held flow is due again, or
        the next look for exits without pidfds."""
        pacing = self._pacer.timeout()
        if not self._held and not self._polled:  # the usual case: after every read
            return pacing
        now = time.monotonic()
        due = [*self._held.values()]
        if self._polled:
            due.append(self._polled_at + EXIT_POLL)
        if pacing is not None:
            due.append(now + pacing)
        return max(0.0, min(due) - now)

    def _ask_held(self) -> None:
        """Ask each held flow again; read the pipes of those that say go on."""
        now = time.monotonic()
        for flow in list(self._held):
            wait = flow.paused()
            if wait is not None:
                self._held[flow] = now + wait
                continue
            del self._held[flow]
            for fd, (parked_flow, on_readable) in list(self._parked.items()):
                if parked_flow is flow:
                    del self._parked[fd]
                    self._selector.register(fd, selectors.EVENT_READ, on_readable)

    def _wake(self) -> None:
        """From the writer's thread: its backlog drained, time to ask again."""
        with self._state_lock:
            if self._wake_open:
                os.eventfd_write(self._wake_fd, 1)

    @staticmethod
    def _output_failed(handle: ProcessHandle) -> None:
        handle._output_failures += 1
        if handle._output_failures == 1:
            logger.exception(
                "output callback for pid %d failed; further failures are only counted",
                handle.pid,
            )


class LocalHub:
    """The local backend's hub: starts the loop on the first spawn, stops it on `close`.

    Safe to use from any thread. A forked copy of the supervisor lets go of the reaper's
    pipe (see `_forget_in_children`), so the reaper still notices the real one's death.
    """

    def __init__(self, *, runnable: Callable[[], int | None] | None = None) -> None:
        """`runnable` counts the machine's runnable tasks for the pacing of bursts
        (`_pacing`), the kernel's count unless a test gives one of its own."""
        self._lock = threading.Lock()
        self._loop: _HubLoop | None = None
        self._runnable = runnable
        _LIVE.add(self)

    def spawn_soon(
        self,
        argv: Sequence[str],
        env: Mapping[str, str],
        cwd: Path,
        on_output: OutputCallback,
        on_exit: ExitCallback,
    ) -> Future[ProcessHandle]:
        """Launch `argv` from the hub thread and watch it, without waiting: the future
        holds the handle, or the `RunnerError` of a launch that failed (raised here
        instead when the hub is shutting down).

        `env` is the complete environment. The future's callbacks run on the hub thread
        (or at once, on the caller's, when it is already answered), and so do `on_output`
        and `on_exit`: none may block. `on_exit` is called exactly once, after the last
        output line.
        """
        running: _HubLoop | None = getattr(_thread_state, "loop", None)
        if running is not None and running.closing:
            # A callback during shutdown must not quietly bring a fresh loop up.
            raise RunnerError("the local runtime is shutting down")
        with self._lock:
            loop = self._loop
            if loop is None or loop.closing:
                loop = self._loop = _HubLoop(self._runnable)
        return loop.spawn_soon(tuple(argv), env, cwd, on_output, on_exit)

    def hurry(self) -> None:
        """An agent is being stopped or killed: spawn the rest of a burst under way
        without pacing, so that its exit is reported soon (`_pacing.SpawnPacer.hurry`)."""
        loop = self._loop
        if loop is not None:
            loop.hurry()

    def close(self, timeout: float = 5.0) -> None:
        """SIGKILL every local agent still running, then stop the hub thread and the reaper.

        For a graceful end, stop the runners first. A later `spawn` starts afresh.
        """
        with self._lock:
            loop, self._loop = self._loop, None
        if loop is not None and not loop.close(timeout):
            logger.warning("local I/O hub did not stop within %.1f s", timeout)

    def _forget_in_child(self) -> None:
        # Right after fork: the lock may have been held by another thread at that moment.
        self._lock = threading.Lock()
        loop, self._loop = self._loop, None
        if loop is not None:
            loop.forget_in_child()


_LIVE: weakref.WeakSet[LocalHub] = weakref.WeakSet()
# Tells a loop thread which loop it runs, so a callback cannot start a fresh one while
# its own is shutting down.
_thread_state = threading.local()


def _forget_in_children() -> None:
    # A forked copy has no hub thread; it must not queue requests to it, nor hold
    # the reaper's pipe open (the reaper would then miss the supervisor's death).
    for hub in list(_LIVE):
        hub._forget_in_child()


os.register_at_fork(after_in_child=_forget_in_children)
