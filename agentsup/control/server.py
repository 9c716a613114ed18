"""The control server: HTTP with JSON bodies on the job's Unix socket.

The standard library's `http.server` on a `socketserver` Unix stream server is enough
here: requests are rare and small, one thread per connection is cheap at that rate, and
it adds no dependency. `curl --unix-socket` works against it like against the Docker
Engine API. docs/control.md lists the endpoints.

The server's threads never touch the job's state. Each request becomes one message to
the JobSupervisor, told with a `reply` callback; the thread then waits on a Future that
the callback completes. The supervisor itself never waits, so a slow or vanished client
can hold up only its own thread. Output for `logs` comes from the `LogRing`.
"""

from __future__ import annotations

import json
import os
import socketserver
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, InvalidStateError
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import suppress
from http.server import BaseHTTPRequestHandler
from queue import Empty
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pykka

from agentsup.control.logring import LogRing
from agentsup.control.rundir import ControlError, JobLock
from agentsup.messages import ReportStatus, RestartAgents, StopAgents
from agentsup.messages.control import Reply

Answer = tuple[int, dict[str, Any]]
Reloader = Callable[[], Answer]

API = "/v1"
MAX_BODY = 1 << 20


class _UnixServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    block_on_close = False
    control: ControlServer


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
            self._server = _UnixServer(str(path), _Handler)
        except OSError as exc:
            raise ControlError(
                f"{path}: cannot listen on the control socket: {exc.strerror or exc}"
            ) from None
        os.chmod(path, 0o600)
        self._server.control = self
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="control", daemon=True
        )
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

    def close(self) -> None:
        """Stop answering, remove the socket, then let the lock go (in that order)."""
        self.closing.set()
        self._server.shutdown()
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


class _Handler(BaseHTTPRequestHandler):
    server: _UnixServer
    server_version = "agentsup"

    def log_message(self, format: str, *args: Any) -> None:
        """Requests are not events; the event stream shows what they caused."""

    def address_string(self) -> str:
        return "unix"

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        control = self.server.control
        if url.path == f"{API}/status":
            self._send(*control.status())
        elif url.path == f"{API}/logs":
            self._logs(parse_qs(url.query))
        else:
            self._send(404, {"error": f"no such endpoint: GET {url.path}"})

    def do_POST(self) -> None:
        url = urlsplit(self.path)
        control = self.server.control
        body = self._body()
        if body is None:
            return
        agents = body.get("agents", [])
        if not isinstance(agents, list) or not all(isinstance(a, str) for a in agents):
            self._send(400, {"error": "`agents` must be a list of agent ids"})
            return
        names = tuple(agents)
        if url.path == f"{API}/restart":
            self._send(*control.ask(lambda reply: RestartAgents(names, reply)))
        elif url.path == f"{API}/stop":
            self._send(*control.ask(lambda reply: StopAgents(names, reply)))
        elif url.path == f"{API}/reload":
            if control.reloader is None:
                self._send(409, {"error": "the job is still being prepared"})
            else:
                self._send(*control.reloader())
        else:
            self._send(404, {"error": f"no such endpoint: POST {url.path}"})

    def _body(self) -> dict[str, Any] | None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self._send(413, {"error": "request body too large"})
            return None
        raw = self.rfile.read(length) if length else b"{}"
        try:
            value = json.loads(raw or b"{}")
        except ValueError:
            self._send(400, {"error": "the request body is not JSON"})
            return None
        if not isinstance(value, dict):
            self._send(400, {"error": "the request body must be a JSON object"})
            return None
        return value

    def _send(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode() + b"\n"
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _logs(self, query: dict[str, list[str]]) -> None:
        control = self.server.control
        agents = query.get("agent") or control.agent_ids
        unknown = [a for a in agents if a not in control.agent_ids]
        if unknown:
            self._send(404, {"error": "no agent " + ", ".join(map(repr, unknown))
                                      + " in this job"})
            return
        try:
            count = int((query.get("n") or ["10"])[0])
        except ValueError:
            self._send(400, {"error": "`n` must be a whole number"})
            return
        follow = (query.get("follow") or ["0"])[0] in ("1", "true", "yes")
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        if not follow:
            for line in control.ring.tail(agents, count):
                self.wfile.write(json.dumps(line.to_json()).encode() + b"\n")
            return
        lines, follower = control.ring.tail_and_follow(agents, count)
        try:
            for line in lines:
                self.wfile.write(json.dumps(line.to_json()).encode() + b"\n")
            self.wfile.flush()
            while not control.closing.is_set():
                try:
                    entry = follower.lines.get(timeout=0.5)
                except Empty:
                    continue
                self.wfile.write(json.dumps(entry.to_json()).encode() + b"\n")
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the reader went away
        finally:
            follower.close()


def open_control(job: str, job_file: str, ring: LogRing) -> ControlServer:
    """Take the job's lock and serve its socket; `AlreadyRunning` if another holds it."""
    from agentsup.control.rundir import job_paths

    lock = JobLock.acquire(job_paths(job), job_file=job_file)
    try:
        return ControlServer(lock, job=job, job_file=job_file, ring=ring)
    except BaseException:
        lock.release()
        raise
