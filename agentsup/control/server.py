"""The control server: HTTP with JSON bodies on the job's Unix socket.

The standard library's `http.server` on a `socketserver` Unix stream server is enough
here: requests are rare and small, one thread per connection is cheap at that rate, and
it adds no dependency. `curl --unix-socket` works against it like against the Docker
Engine API. docs/control.md lists the endpoints; the HTTP handler is `handler.py`,
imported at the first request.

The server's threads never touch the job's state. Each request becomes one message to
the JobSupervisor, told with a `reply` callback; the thread then waits on a Future that
the callback completes. The supervisor itself never waits, so a slow or vanished client
can hold up only its own thread. Output for `logs` comes from the `LogRing`.
"""

from __future__ import annotations

import os
import selectors
import socketserver
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, InvalidStateError
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import suppress
from typing import Any

import pykka

from agentsup.control.logring import LogRing
from agentsup.control.rundir import ControlError, JobLock
from agentsup.messages import ReportStatus
from agentsup.messages.control import Reply

Answer = tuple[int, dict[str, Any]]
FOLLOWERS_FINISH = 2.0
"""Seconds the end of a job waits for its `logs -f` readers to take their last lines."""
Reloader = Callable[[], Answer]


class _UnixServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    block_on_close = False
    control: ControlServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away before its answer (`timeout 1 agentsup restart ...`,
        Ctrl-C) is nothing to report; anything else is printed as `socketserver` does."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class ControlServer:
    """Serves one job's socket from the moment its lock is held until the job is over."""

    def __init__(self, lock: JobLock, *, job: str, job_file: str, ring: LogRing) -> None:
        self.lock = lock
        self.job = job
        self.job_file = job_file
        self.ring = ring
        self.started = time.time()
        self.supervisor: pykka.ActorRef[Any] | None = None
        self.agent_ids: list[str] = []
        self.reloader: Reloader | None = None
        self.closing = threading.Event()
        path = lock.paths.socket
        with suppress(FileNotFoundError):
            path.unlink()  # left by a supervisor that died; we hold the lock, so it is stale
        try:
            self._server = _UnixServer(str(path), _handle)
        except OSError as exc:
            raise ControlError(
                f"{path}: cannot listen on the control socket: {exc.strerror or exc}"
            ) from None
        os.chmod(path, 0o600)
        self._server.control = self
        self._wake_read, self._wake_write = os.pipe2(os.O_CLOEXEC)
        self._thread = threading.Thread(target=self._serve, name="control", daemon=True)
        self._thread.start()

    @property
    def path(self) -> str:
        return str(self.lock.paths.socket)

    def attach(
        self,
        supervisor: pykka.ActorRef[Any],
        agent_ids: list[str],
        reloader: Reloader | None = None,
    ) -> None:
        self.agent_ids = list(agent_ids)
        self.reloader = reloader
        self.supervisor = supervisor

    def _serve(self) -> None:
        """Accept connections until `close`, which wakes this thread through a pipe.

        `serve_forever` looks for its shutdown every half second, so the end of every
        job (`agentsup stop`, a signal) waited for that look: 0 to 0.5 s, a quarter of
        a second on average, and two wake-ups a second while the job ran."""
        with selectors.DefaultSelector() as selector:
            selector.register(self._server.fileno(), selectors.EVENT_READ)
            selector.register(self._wake_read, selectors.EVENT_READ)
            while not self.closing.is_set():
                for key, _ in selector.select():
                    if key.fd == self._wake_read or self.closing.is_set():
                        return
                    self._server.handle_request()  # readable: it does not wait

    def close(self) -> None:
        """Stop answering, let each `logs -f` reader have the last lines (for up to
        `FOLLOWERS_FINISH` seconds), remove the socket, then let the lock go (in that
        order)."""
        self.closing.set()
        os.write(self._wake_write, b"x")
        self._thread.join()
        os.close(self._wake_read)
        os.close(self._wake_write)
        self.ring.end_followers(FOLLOWERS_FINISH)
        self._server.server_close()
        with suppress(FileNotFoundError):
            self.lock.paths.socket.unlink()
        self.lock.release()

    def ask(self, make: Callable[[Reply], object]) -> Answer:
        """Tell the supervisor a request and wait for its answer (this thread only)."""
        ref = self.supervisor
        if ref is None:
            return 409, {"error": "the job is still being prepared; nothing runs yet"}
        answer: Future[Answer] = Future()

        def reply(status: int, body: dict[str, Any]) -> None:
            with suppress(InvalidStateError):
                answer.set_result((status, body))

        try:
            ref.tell(make(reply))
        except pykka.ActorDeadError:
            return 503, {"error": "the job is shutting down"}
        while True:
            try:
                return answer.result(timeout=0.5)
            except FutureTimeout:
                if not ref.is_alive():
                    return 503, {"error": "the job is shutting down"}

    def status(self) -> Answer:
        if self.supervisor is None:
            code, body = 200, {"phase": "preparing", "agents": []}
        else:
            code, body = self.ask(ReportStatus)
        return code, {"job": self.job, "file": self.job_file, "pid": os.getpid(),
                      "control": self.path, **body}


def _handle(
    request: Any, client_address: Any, server: socketserver.BaseServer
) -> socketserver.BaseRequestHandler:
    """socketserver's handler for one connection, on that connection's thread.

    `http.server` (with `http.client`, `email` and `html`, which it imports) is imported
    at the first request rather than before the job's first stage: `start` needs the
    socket listening from the start, the HTTP parsing only once a client connects.
    """
    from agentsup.control.handler import Handler

    return Handler(request, client_address, server)


def open_control(job: str, job_file: str, ring: LogRing) -> ControlServer:
    """Take the job's lock and serve its socket; `AlreadyRunning` if another holds it."""
    from agentsup.control.rundir import job_paths

    lock = JobLock.acquire(job_paths(job), job_file=job_file)
    try:
        return ControlServer(lock, job=job, job_file=job_file, ring=ring)
    except BaseException:
        lock.release()
        raise
