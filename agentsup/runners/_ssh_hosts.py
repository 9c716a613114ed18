"""SSH connections and remote sessions for the SSH backend (`ssh.py`).

One asyncio loop on one thread (`LoopThread`) runs all SSH work of a job. `Host` is one
connection per (host, port, user), shared by that host's agents: it connects with the
OpenSSH client configuration and the job's known_hosts, reconnects with back-off, runs
the pre-start checks, and starts each agent's session under the remote watchdog.
`Session` is one agent's running session.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import logging
import shlex
import threading
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import asyncssh
import msgspec

from agentsup.job.models import Agent, SshSettings
from agentsup.runners._ssh_scripts import decode
from agentsup.runners._ssh_wire import (
    FIRST_LINE_TIMEOUT,
    WATCHDOG_SOURCE,
    Session,
    relay,
    watchdog_failed,
)
from agentsup.runners.base import (
    BackendContext,
    RunnerError,
)
from agentsup.sshconfig import default_config_paths

logger = logging.getLogger(__name__)
# asyncssh logs every channel at INFO; the job's events say what matters.
logging.getLogger("asyncssh").setLevel(logging.WARNING)


IGNORE_KNOWN_HOSTS = "ignore"
KEEPALIVE_INTERVAL = 5.0
KEEPALIVE_COUNT_MAX = 3
COMMAND_TIMEOUT = 30.0
RECONNECT_DELAY_FIRST = 0.25
RECONNECT_DELAY_MAX = 2.0
STUCK_WARNING_INTERVAL = 10.0

T = TypeVar("T")

class Endpoint(msgspec.Struct, frozen=True):
    """What identifies one shared SSH connection."""

    host: str
    port: int | None
    user: str | None

    @classmethod
    def of(cls, agent: Agent) -> Endpoint:
        deployment = agent.deployment
        assert deployment.host is not None  # the loader requires it for remote agents
        return cls(deployment.host, deployment.port, deployment.user)

    @property
    def label(self) -> str:
        text = self.host if self.user is None else f"{self.user}@{self.host}"
        return text if self.port is None else f"{text}:{self.port}"


class LoopThread:
    """One asyncio event loop on one daemon thread."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_forever()
        finally:
            pending = asyncio.all_tasks(self.loop)
            for task in pending:
                task.cancel()
            if pending:
                self.loop.run_until_complete(
                    asyncio.gather(*pending, return_exceptions=True)
                )
            self.loop.close()

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def run(self, coro: Coroutine[Any, Any, T], timeout: float) -> T:
        future = self.submit(coro)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise

    def call_soon(self, callback: Any, *args: Any) -> None:
        with contextlib.suppress(RuntimeError):  # the loop has been closed
            self.loop.call_soon_threadsafe(callback, *args)

    def stop(self, timeout: float = 5.0) -> None:
        with contextlib.suppress(RuntimeError):
            self.loop.call_soon_threadsafe(self.loop.stop)
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)


class _ConnectFailed(RunnerError):
    """A connection that could not be made; `transient` ones are worth retrying."""

    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient


class _Client(asyncssh.SSHClient):
    def __init__(self, host: Host) -> None:
        self._host = host
        self.connection: asyncssh.SSHClientConnection | None = None

    def connection_made(self, conn: asyncssh.SSHClientConnection) -> None:
        self.connection = conn

    def connection_lost(self, exc: Exception | None) -> None:
        if self.connection is not None:
            self._host.lost(self.connection, exc)


# --------------------------------------------------------------------------- one host


class Host:
    """One (host, port, user): its shared connection, (re)made on demand."""

    def __init__(self, endpoint: Endpoint, agent: Agent, context: BackendContext) -> None:
        self.endpoint = endpoint
        self.label = endpoint.label
        self.context = context
        self.settings: SshSettings = context.ssh
        self._credentials = agent.deployment
        self._conn: asyncssh.SSHClientConnection | None = None
        self._connecting: asyncio.Task[asyncssh.SSHClientConnection] | None = None
        self._closing = False
        self.lost_reason: str | None = None
        self.address: tuple[str, int] = (endpoint.host, endpoint.port or 22)
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def connected(self) -> bool:
        return self._conn is not None

    # ----------------------------------------------------------- connecting

    def _local_path(self, path: str) -> Path:
        expanded = Path(path).expanduser()
        return expanded if expanded.is_absolute() else self.context.base_dir / expanded

    @property
    def _known_hosts_file(self) -> Path | None:
        if self.settings.known_hosts.strip().lower() == IGNORE_KNOWN_HOSTS:
            return None
        return self._local_path(self.settings.known_hosts)

    def _options(self) -> dict[str, Any]:
        timeout = self.settings.timeout
        options: dict[str, Any] = {
            "host": self.endpoint.host,
            "connect_timeout": timeout,
            "login_timeout": timeout,
            "keepalive_interval": KEEPALIVE_INTERVAL,
            "keepalive_count_max": KEEPALIVE_COUNT_MAX,
            "client_factory": lambda: _Client(self),
        }
        if self.endpoint.port is not None:
            options["port"] = self.endpoint.port
        if self.endpoint.user is not None:
            options["username"] = self.endpoint.user
        known_hosts = self._known_hosts_file
        if known_hosts is None:
            options["known_hosts"] = None
        elif known_hosts.exists():
            options["known_hosts"] = str(known_hosts)
        else:
            options["known_hosts"] = asyncssh.import_known_hosts("")
        keys = [k for k in (self._credentials.ssh_key, self.settings.key_file) if k]
        if keys:
            # Explicit keys; keys in a running SSH agent are still tried first.
            options["client_keys"] = [str(self._local_path(key)) for key in keys]
        if self._credentials.password is not None:
            options["password"] = self._credentials.password.get_secret_value()
        return options

    async def connection(self, *, retry_for: float | None = None) -> asyncssh.SSHClientConnection:
        """The shared connection, connecting first if there is none.

        With `retry_for`, transient failures (refused, timed out, dropped) are retried
        with back-off for that many seconds, each attempt announced as an event. Every
        caller that asks while a connection is being made waits for that one attempt
        and shares its outcome: the agents of a lost host reconnect together, not one
        after another.
        """
        if self._conn is not None:
            return self._conn
        connecting = self._connecting
        if connecting is None:
            connecting = asyncio.get_running_loop().create_task(self._connect(retry_for))
            connecting.add_done_callback(self._connect_done)
            self._connecting = connecting
        return await asyncio.shield(connecting)

    def _connect_done(self, task: asyncio.Task[asyncssh.SSHClientConnection]) -> None:
        if self._connecting is task:
            self._connecting = None
        if not task.cancelled():
            task.exception()  # retrieved here, so an attempt nobody awaits logs nothing

    async def _connect(self, retry_for: float | None) -> asyncssh.SSHClientConnection:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (retry_for or 0.0)
        delay = RECONNECT_DELAY_FIRST
        attempt = 0
        while True:
            attempt += 1
            remaining = deadline - loop.time()
            try:
                budget = self.settings.timeout if attempt == 1 else max(remaining, 0.5)
                conn = await self._connect_once(min(self.settings.timeout, budget))
            except _ConnectFailed as exc:
                if not exc.transient or retry_for is None or remaining < delay:
                    raise
                self.context.emit(
                    "ssh.reconnecting", "warning",
                    host=self.label, attempt=attempt, delay=delay, error=str(exc),
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, RECONNECT_DELAY_MAX)
                continue
            if self._closing:
                conn.abort()
                raise _ConnectFailed(f"the connection to {self.label} is closing",
                                     transient=False)
            self._conn = conn
            self.lost_reason = None
            return conn

    async def _connect_once(self, timeout: float) -> asyncssh.SSHClientConnection:
        label = self.label
        try:
            # The OpenSSH configuration named explicitly: without it the options keep the
            # alias and port 22 (asyncssh applies `HostName` and `Port` only inside
            # `connect`), and every message and host-key look-up used those.
            options = await asyncssh.SSHClientConnectionOptions.construct(
                None, config=[str(path) for path in default_config_paths()], **self._options()
            )
        except (OSError, asyncssh.Error, asyncssh.KeyImportError, ValueError) as exc:
            raise _ConnectFailed(
                f"cannot use the SSH settings for {label}: {exc}", transient=False
            ) from None
        host, port = str(options.host), int(options.port)
        self.address = (host, port)
        known_hosts = self._known_hosts_file
        if known_hosts is None:
            self.context.emit(
                "ssh.host_key_unverified", "warning", host=label, address=f"{host}:{port}",
                message="deployment.ssh.known_hosts is 'ignore': the host key is not verified",
            )
        try:
            conn = await asyncio.wait_for(
                asyncssh.connect(self.endpoint.host, options=options), timeout + 1.0
            )
        except asyncssh.HostKeyNotVerifiable:
            assert known_hosts is not None
            raise _ConnectFailed(self._host_key_problem(known_hosts), transient=False) from None
        except asyncssh.PermissionDenied:
            raise _ConnectFailed(
                f"SSH login to {label} as {options.username!r} was refused (permission "
                "denied): check the agent's ssh_key, deployment.ssh.key_file, its password "
                "or the keys in your SSH agent",
                transient=False,
            ) from None
        except TimeoutError:
            raise _ConnectFailed(
                f"could not connect to {label} ({host} port {port}) within {timeout:g} s",
                transient=True,
            ) from None
        except OSError as exc:
            reason = exc.strerror or str(exc) or type(exc).__name__
            raise _ConnectFailed(
                f"could not connect to {label} ({host} port {port}): {reason}", transient=True
            ) from None
        except asyncssh.Error as exc:
            raise _ConnectFailed(
                f"SSH connection to {label} ({host} port {port}) failed: {exc.reason}",
                transient=True,
            ) from None
        self.context.emit(
            "ssh.connected", host=label, address=f"{host}:{port}", user=options.username
        )
        return conn

    def _host_key_problem(self, known_hosts: Path) -> str:
        host, port = self.address
        name = host if port == 22 else f"[{host}]:{port}"
        scan = f"ssh-keyscan -p {port} {host} >> {known_hosts}"
        recorded = False
        if known_hosts.exists():
            with contextlib.suppress(Exception):
                matches = asyncssh.read_known_hosts(str(known_hosts)).match(host, "", port)
                recorded = bool(matches[0]) or bool(matches[1])
        if recorded:
            return (
                f"the host key of {self.label} ({name}) does not match the one "
                f"recorded in {known_hosts}: it has changed (the host was reinstalled, "
                "or someone is intercepting the connection). If the change is expected, "
                f"remove the old key with `ssh-keygen -R '{name}' -f {known_hosts}` and add "
                f"the new one with `{scan}`"
            )
        where = known_hosts if known_hosts.exists() else f"{known_hosts} (which does not exist)"
        return (
            f"the host key of {self.label} ({name}) is unknown: it is not in {where}. "
            f"Check the host's key and add it, for example with `{scan}`, or point "
            "deployment.ssh.known_hosts at a file that has it"
        )

    def lost(self, conn: asyncssh.SSHClientConnection, exc: Exception | None) -> None:
        """Called on the loop when a connection ends, for whatever reason."""
        if conn is not self._conn:
            return
        self._conn = None
        reason = (str(exc) if exc is not None else "") or "the connection was closed"
        self.lost_reason = reason
        if not self._closing:
            self.context.emit(
                "ssh.connection_lost", "warning", host=self.label, reason=reason
            )

    def forget(self, conn: asyncssh.SSHClientConnection) -> None:
        """Drop a connection that failed to open a session; the next use reconnects."""
        if conn is self._conn:
            self._conn = None
            conn.abort()

    async def close(self) -> None:
        self._closing = True
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.wait_closed(), 5.0)

    # ----------------------------------------------------------- commands

    async def run(self, command: str, stdin: str | None = None) -> tuple[int | None, str, str]:
        """Run one command on the host: (exit status, stdout, stderr)."""
        conn = await self.connection()
        try:
            result = await asyncio.wait_for(
                conn.run(command, input=stdin, check=False, encoding="utf-8",
                         errors="replace"),
                COMMAND_TIMEOUT,
            )
        except TimeoutError:
            raise RunnerError(
                f"a command on {self.label} did not finish within {COMMAND_TIMEOUT:g} s"
            ) from None
        except (asyncssh.Error, OSError) as exc:
            raise RunnerError(f"connection to {self.label} lost: {exc}") from None
        return result.exit_status, str(result.stdout or ""), str(result.stderr or "")

    # ----------------------------------------------------------- agents

    async def launch(self, session: Session, python: str, config: dict[str, Any]) -> int:
        """Start the watchdog and, through it, the agent; returns the agent's pid."""
        conn = await self.connection(retry_for=self.settings.timeout)
        command = f"exec {shlex.quote(python)} -c {shlex.quote(WATCHDOG_SOURCE)}"
        try:
            process: asyncssh.SSHClientProcess[bytes] = await conn.create_process(
                command, encoding=None
            )
        except (asyncssh.Error, OSError) as exc:
            self.forget(conn)
            raise RunnerError(f"cannot open an SSH session on {self.label}: {exc}") from None
        try:
            process.stdin.write(json.dumps(config).encode() + b"\n")
            line = await asyncio.wait_for(process.stdout.readline(), FIRST_LINE_TIMEOUT)
        except BaseException:
            process.close()
            raise
        if line.startswith(b"P "):
            pid = int(line[2:].strip())
        elif line.startswith(b"F "):
            process.close()
            raise RunnerError(f"cannot start on {self.label}: {decode(line[2:]).strip()}")
        else:
            raise RunnerError(await watchdog_failed(self, process, python))
        session.process = process
        task = asyncio.get_running_loop().create_task(relay(self, session, process))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return pid
