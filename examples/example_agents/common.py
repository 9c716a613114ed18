"""Shared plumbing for the example agents: settings, JSON over HTTP, a server, clean shutdown."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType
from typing import Any
from urllib.parse import parse_qs, urlsplit

JSON = Any
"""A decoded JSON value."""


def log(msg: str, **fields: JSON) -> None:
    """Write one JSON object on one line to stdout (agentsup turns it into `payload`)."""
    print(json.dumps({"msg": msg, **fields}, sort_keys=False), flush=True)


@dataclass(frozen=True)
class Settings:
    """What agentsup tells every agent through its environment."""

    agent_id: str
    port: int
    connected: list[str] = field(default_factory=list)
    connections: dict[str, str] = field(default_factory=dict)
    job: str = ""

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ) if env is None else env
        connected = [url for url in env.get("CONNECTED_AGENTS", "").split(",") if url]
        connections = json.loads(env.get("AGENTSUP_CONNECTIONS") or "{}")
        return cls(
            agent_id=env.get("AGENT_ID", "agent"),
            port=int(env["AGENT_PORT"]),
            connected=connected,
            connections={str(k): str(v) for k, v in connections.items()},
            job=env.get("AGENTSUP_JOB", ""),
        )

    def peers(self) -> dict[str, str]:
        """Peer id -> URL; peers only known by URL (no AGENTSUP_CONNECTIONS) use it as id."""
        peers = dict(self.connections)
        known = set(peers.values())
        peers.update({url: url for url in self.connected if url not in known})
        return peers

    def option(self, key: str, default: str = "") -> str:
        """A `config` setting, as agentsup passes it (AGENT_<KEY>)."""
        return os.environ.get("AGENT_" + key.upper(), default)


class HttpError(Exception):
    """An answer to send with a non-2xx status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class PeerError(Exception):
    """Calling another agent failed."""


def call(url: str, body: JSON = None, *, method: str | None = None, timeout: float = 5.0) -> JSON:
    """GET (or POST, when there is a body) `url` and decode its JSON answer."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        raise PeerError(f"{url}: HTTP {exc.code}: {exc.read().decode(errors='replace')}") from exc
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise PeerError(f"{url}: {exc}") from exc


def join(base: str, path: str) -> str:
    return base.rstrip("/") + path


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, str]
    body: JSON


Handler = Callable[[Request], JSON]


class Agent:
    """Base class: subclasses register handlers in `__init__` with `self.route(...)`."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.routes: dict[tuple[str, str], Handler] = {}
        self.route("GET", "/health", self.health)
        self.route("GET", "/.well-known/agent-card.json", self.agent_card)

    @property
    def id(self) -> str:
        return self.settings.agent_id

    def route(self, method: str, path: str, handler: Handler) -> None:
        self.routes[(method, path)] = handler

    def health(self, request: Request) -> JSON:
        return {"status": "ok", "id": self.id, "type": type(self).__name__}

    def agent_card(self, request: Request) -> JSON:
        """A minimal A2A agent card, so that `health_check.type: a2a` can probe it."""
        return {
            "name": f"{type(self).__name__} {self.id}",
            "url": f"http://localhost:{self.settings.port}/",
            "version": "1.0",
            "skills": [],
        }

    def dispatch(self, request: Request) -> tuple[int, JSON]:
        handler = self.routes.get((request.method, request.path))
        if handler is None:
            allowed = sorted(m for m, p in self.routes if p == request.path)
            if allowed:
                return HTTPStatus.METHOD_NOT_ALLOWED, {"error": f"use {', '.join(allowed)}"}
            return HTTPStatus.NOT_FOUND, {"error": f"no route {request.path}"}
        try:
            return HTTPStatus.OK, handler(request)
        except HttpError as exc:
            return exc.status, {"error": str(exc)}
        except PeerError as exc:
            log("peer call failed", error=str(exc))
            return HTTPStatus.BAD_GATEWAY, {"error": str(exc)}


def _handler_class(agent: Agent) -> type[BaseHTTPRequestHandler]:
    class RequestHandler(BaseHTTPRequestHandler):
        def _serve(self, method: str) -> None:
            parts = urlsplit(self.path)
            query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            status: int
            answer: JSON
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                status, answer = HTTPStatus.BAD_REQUEST, {"error": "the body is not JSON"}
            else:
                status, answer = agent.dispatch(Request(method, parts.path, query, body))
            data = json.dumps(answer).encode() + b"\n"
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def log_message(self, format: str, *args: Any) -> None:
            pass  # no access log; agents log what matters as JSON

    return RequestHandler


def serve(agent: Agent) -> int:
    """Serve until SIGTERM or SIGINT, then shut down cleanly and return 0."""
    server = ThreadingHTTPServer(("127.0.0.1", agent.settings.port), _handler_class(agent))
    server.daemon_threads = True
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    # A short poll interval so that shutdown() returns promptly after a signal.
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="http", daemon=True
    )
    thread.start()
    log("listening", id=agent.id, port=agent.settings.port, peers=agent.settings.peers())
    stop.wait()  # signal handlers run in this (main) thread and interrupt the wait
    server.shutdown()
    server.server_close()
    log("stopped", id=agent.id)
    return 0


def main(agent_class: Callable[[Settings], Agent]) -> None:
    """The body of every agent module's `__main__` block."""
    try:
        settings = Settings.from_env()
    except (KeyError, ValueError) as exc:
        print(f"bad environment: {exc!r} (AGENT_PORT must be set)", file=sys.stderr)
        raise SystemExit(2) from None
    try:
        code = serve(agent_class(settings))
    except OSError as exc:
        log("cannot listen", port=settings.port, error=str(exc))
        code = 1
    raise SystemExit(code)
