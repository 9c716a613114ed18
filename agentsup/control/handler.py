"""The control socket's HTTP handler: endpoints, JSON bodies, the `logs` stream.

Imported by the control server at the first request (`server._handle`), so that `start`
does not load `http.server` before its first stage. docs/control.md lists the endpoints.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

import orjson

from agentsup.control.logring import Line, LogRing, Missed
from agentsup.messages import RestartAgents, StopAgents
from agentsup.messages.control import Reply

Answer = tuple[int, dict[str, Any]]

API = "/v1"
MAX_BODY = 1 << 20


class Control(Protocol):
    """What a request needs of the `ControlServer` (which imports this module lazily)."""

    agent_ids: list[str]
    ring: LogRing
    closing: threading.Event
    reloader: Callable[[], Answer] | None

    def status(self) -> Answer: ...

    def ask(self, make: Callable[[Reply], object]) -> Answer: ...


class Handler(BaseHTTPRequestHandler):
    """One request on the control socket; `self.server.control` is the `ControlServer`."""

    server_version = "agentsup"

    def _control(self) -> Control:
        control: Control = getattr(self.server, "control")  # noqa: B009 - set by the server
        return control

    def log_message(self, format: str, *args: Any) -> None:
        """Requests are not events; the event stream shows what they caused."""

    def address_string(self) -> str:
        return "unix"

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        control = self._control()
        if url.path == f"{API}/status":
            self._send(*control.status())
        elif url.path == f"{API}/logs":
            self._logs(parse_qs(url.query))
        else:
            self._send(404, {"error": f"no such endpoint: GET {url.path}"})

    def do_POST(self) -> None:
        url = urlsplit(self.path)
        control = self._control()
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
        control = self._control()
        # An agent named twice is asked for once: its lines are printed once.
        agents = list(dict.fromkeys(query.get("agent") or control.agent_ids))
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
            self._write_entries(control.ring.tail(agents, count))
            return
        # Without `agent`, agents a reload adds are followed too.
        lines, follower = control.ring.tail_and_follow(agents, count,
                                                       every=not query.get("agent"))
        try:
            self._write_entries(lines)
            while not control.closing.is_set():
                self._write_entries(follower.take(timeout=0.5))
            self._write_entries(follower.take(0))  # the last lines before the job ended
        except (BrokenPipeError, ConnectionResetError):
            pass  # the reader went away
        finally:
            follower.close()

    def _write_entries(self, entries: Sequence[Line | Missed]) -> None:
        """One write for what is waiting: a fast agent's lines must not cost a system
        call each, or the follower falls behind and loses them."""
        if entries:
            self.wfile.write(b"".join(map(_entry_bytes, entries)))
            self.wfile.flush()


def _entry_bytes(entry: Line | Missed) -> bytes:
    """One `logs` entry as a JSON line. orjson is several times faster, which a follower
    of a fast agent needs; it refuses text the standard library writes (a lone
    surrogate), and that goes through the standard library as before."""
    value = entry.to_json()
    try:
        return orjson.dumps(value, option=orjson.OPT_APPEND_NEWLINE)
    except TypeError:
        return json.dumps(value).encode() + b"\n"
