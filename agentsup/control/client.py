"""The client side of the control socket: one HTTP request over AF_UNIX per call."""

from __future__ import annotations

import http.client
import json
import socket
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

from agentsup.control.rundir import ControlError, JobPaths

READ_SIZE = 1 << 16


class NotRunning(ControlError):
    pass


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float | None) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self._path)
        except BaseException:
            sock.close()
            raise
        self.sock = sock


class ControlClient:
    def __init__(self, paths: JobPaths, timeout: float | None = None) -> None:
        self.paths = paths
        self.timeout = timeout

    def _open(self, method: str, path: str, body: dict[str, Any] | None
              ) -> tuple[_UnixConnection, http.client.HTTPResponse]:
        connection = _UnixConnection(str(self.paths.socket), self.timeout)
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if data is not None else {}
        try:
            connection.request(method, path, body=data, headers=headers)
            return connection, connection.getresponse()
        except (FileNotFoundError, ConnectionRefusedError):
            connection.close()
            raise NotRunning(f"job {self.paths.name!r} is not running "
                             f"(nothing answers on {self.paths.socket})") from None
        except ConnectionError:  # reset, broken pipe, closed before the answer
            connection.close()
            raise NotRunning(f"job {self.paths.name!r} stopped answering "
                             "(it is shutting down)") from None

    def call(self, method: str, path: str, body: dict[str, Any] | None = None
             ) -> tuple[int, dict[str, Any]]:
        connection, response = self._open(method, path, body)
        try:
            raw = response.read()
        except (ConnectionError, http.client.IncompleteRead):
            raise NotRunning(f"job {self.paths.name!r} stopped answering "
                             "(it is shutting down)") from None
        finally:
            connection.close()
        try:
            value = json.loads(raw or b"{}")
        except ValueError:
            raise ControlError(f"job {self.paths.name!r} answered with something other "
                               "than JSON") from None
        return response.status, value if isinstance(value, dict) else {}

    def lines(self, agents: list[str], count: int, follow: bool
              ) -> Iterator[list[dict[str, Any]]]:
        """Output lines, one JSON object each, in batches of what has arrived; with
        `follow`, until the job ends. A batch is what one read brought, so that a
        follower of a fast agent prints (and flushes) in large writes."""
        query = urlencode([("agent", a) for a in agents] + [("n", str(count))]
                          + [("follow", "1" if follow else "0")])
        connection, response = self._open("GET", f"/v1/logs?{query}", None)
        try:
            if response.status != 200:
                value = json.loads(response.read() or b"{}")
                raise ControlError(str(value.get("error", f"HTTP {response.status}")))
            rest = b""
            while True:
                try:
                    data = response.read1(READ_SIZE)
                except (ConnectionError, http.client.IncompleteRead):
                    return
                if not data:
                    return
                *complete, rest = (rest + data).split(b"\n")
                if complete:
                    yield [json.loads(line) for line in complete]
        finally:
            connection.close()
