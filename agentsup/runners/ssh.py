"""Agents on other hosts, over SSH with asyncssh.

All SSH work of a job happens on one asyncio event loop on one background thread
(`LoopThread` in `_ssh_hosts`); the synchronous `Runner` methods hand coroutines to it with
`asyncio.run_coroutine_threadsafe`. There is one SSH connection per (host, port, user),
shared by that host's agents, opened with the OpenSSH client configuration
(`~/.ssh/config`), keepalives on, and host keys verified against the job's known_hosts
file.

Each agent runs under a small remote watchdog (`agentsup/programs/ssh_watchdog.py`, sent as
`python3 -c SOURCE`) in its own SSH session. The watchdog reads the agent's argv and
environment from its stdin (never a command line: `ps` would show the values) and starts
it (`cd WORKDIR && exec "$@"`) as the leader of a new process group, keeps a run
record in `~/.agentsup/<job>/<machine>/<agent>.json` on the host, relays the agent's
output as framed lines, signals the group when told to, and ends the group when its
SSH session's stdin closes: a killed supervisor or a dropped connection leaves nothing
behind for more than a few seconds.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import logging
import shlex
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

from agentsup.job.models import Agent
from agentsup.runners._ssh_hosts import (
    COMMAND_TIMEOUT,
    STUCK_WARNING_INTERVAL,
    Endpoint,
    Host,
    LoopThread,
)
from agentsup.runners._ssh_scripts import (
    CHECK_SCRIPT,
    PYTHON_MARK,
    RECORD_ROOT,
    agent_launch,
    exec_command_line,
    record_dir,
    remote_path,
    tail,
    watchdog_python,
)
from agentsup.runners._ssh_wire import (
    FIRST_LINE_TIMEOUT,
    ORPHAN_GRACE_MAX,
    WATCHDOG_SOURCE,
    Session,
)
from agentsup.runners.base import (
    Backend,
    BackendContext,
    ExecResult,
    ExitCallback,
    LaunchSpec,
    OutputCallback,
    Reloaded,
    Runner,
    RunnerError,
    StartInfo,
)

__all__ = ["RECORD_ROOT", "SshBackend", "SshRunner"]

logger = logging.getLogger(__name__)


class SshRunner(Runner):
    """Runs one agent at a time on its host, under the remote watchdog."""

    def __init__(self, backend: SshBackend, host: Host, agent: Agent) -> None:
        self._backend = backend
        self._host = host
        self._agent = agent
        self._lock = threading.Lock()
        self._session: Session | None = None
        self._stop_word = b"TERM"
        self._spec: LaunchSpec | None = None

    def start(
        self, spec: LaunchSpec, on_output: OutputCallback, on_exit: ExitCallback
    ) -> StartInfo:
        with self._lock:
            previous = self._session
            if previous is not None and not previous.finished.is_set():
                raise RunnerError(f"agent {spec.agent_id!r} is still running on {self._host.label}")
            session = Session(on_output, on_exit)
            context = self._backend.context
            python = watchdog_python(self._agent)
            config = {
                "mode": "run",
                "agent": spec.agent_id,
                "run_id": context.run_id,
                "record_dir": record_dir(context.job_name),
                "grace": min(spec.stop_timeout, ORPHAN_GRACE_MAX),
                **agent_launch(spec),
            }
            timeout = 2 * self._host.settings.timeout + FIRST_LINE_TIMEOUT + 5.0
            try:
                pid = self._backend.loop.run(
                    self._host.launch(session, python, config), timeout
                )
            except concurrent.futures.TimeoutError:
                raise RunnerError(
                    f"starting agent {spec.agent_id!r} on {self._host.label} took longer "
                    f"than {timeout:g} s"
                ) from None
            self._session = session
            # `deployment.stop_signal`; the watchdog takes a signal's name as a command
            self._stop_word = spec.stop_signal.encode("ascii")
            self._spec = spec
        return StartInfo(pid=pid, host=self._host.endpoint.host)

    def stop(self, timeout: float) -> None:
        """The stop signal (SIGTERM unless `stop_signal` says otherwise) to the remote
        group, SIGKILL after `timeout`; returns once the exit has been reported (or the
        connection, and with it the watchdog, is gone)."""
        session = self._session
        if session is None or session.finished.is_set():
            return
        loop = self._backend.loop
        loop.call_soon(session.send, self._stop_word)
        if session.finished.wait(max(timeout, 0.0)):
            return
        loop.call_soon(session.send, b"KILL")
        while not session.finished.wait(STUCK_WARNING_INTERVAL):
            logger.warning(
                "remote agent %s on %s has not exited after SIGKILL",
                self._agent.id, self._host.label,
            )
            loop.call_soon(session.send, b"KILL")

    def kill(self) -> None:
        session = self._session
        if session is not None and not session.finished.is_set():
            self._backend.loop.call_soon(session.send, b"KILL")

    def close(self) -> None:
        self.kill()

    def execute(self, argv: Sequence[str], timeout: float) -> ExecResult:
        """Run a check command on the agent's host, over the agent's SSH connection, in
        its working directory with its environment."""
        spec = self._spec
        if spec is None:
            raise RunnerError("the agent has not been started")
        command = exec_command_line(watchdog_python(self._agent), str(spec.cwd), argv)
        future = self._backend.loop.submit(
            self._host.run(command, json.dumps(dict(spec.env)) + "\n")
        )
        try:
            status, stdout, stderr = future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            return ExecResult(None, "")
        return ExecResult(status, (stdout + stderr)[-300:])


# --------------------------------------------------------------------------- backend


class SshBackend(Backend):
    """Agents on other hosts, reached over SSH."""

    def __init__(self, context: BackendContext, agents: list[Agent]) -> None:
        super().__init__(context, agents)
        self._hosts: dict[Endpoint, Host] = {}
        self._agents_of: dict[Endpoint, list[Agent]] = {}
        for agent in agents:
            endpoint = Endpoint.of(agent)
            self._hosts.setdefault(endpoint, Host(endpoint, agent, context))
            self._agents_of.setdefault(endpoint, []).append(agent)
        self._loop: LoopThread | None = None
        self._loop_lock = threading.Lock()

    @property
    def loop(self) -> LoopThread:
        with self._loop_lock:
            if self._loop is None:
                self._loop = LoopThread(f"ssh-{self.context.job_name}")
            return self._loop

    # ----------------------------------------------------------- preflight

    def preflight(self) -> list[str]:
        timeout = 2 * self.context.ssh.timeout + 2 * COMMAND_TIMEOUT
        try:
            return self.loop.run(self._preflight(), timeout)
        except concurrent.futures.TimeoutError:
            return [f"checking the remote hosts took longer than {timeout:g} s"]

    async def _preflight(self) -> list[str]:
        results = await asyncio.gather(
            *(self._check_host(endpoint) for endpoint in self._hosts)
        )
        return [problem for problems in results for problem in problems]

    async def _check_host(self, endpoint: Endpoint) -> list[str]:
        host = self._hosts[endpoint]
        agents = self._agents_of[endpoint]
        ids = ", ".join(repr(agent.id) for agent in agents)
        try:
            await host.connection()
        except RunnerError as exc:
            return [f"{exc} (needed by agent{'s' if len(agents) > 1 else ''} {ids})"]
        problems = []
        for agent in agents:
            try:
                problem = await self._check_agent(host, agent, self.context.environment(agent))
            except RunnerError as exc:
                problem = str(exc)
            if problem is not None:
                problems.append(f"agent {agent.id!r} on {host.label}: {problem}")
        return problems

    async def _check_agent(
        self, host: Host, agent: Agent, env: Mapping[str, str]
    ) -> str | None:
        python = watchdog_python(agent)
        workdir = agent.deployment.workdir
        steps = []
        if workdir:
            steps.append(f"cd {remote_path(workdir)} 2>/dev/null || exit 101")
        steps.append(f"command -v {shlex.quote(python)} >/dev/null 2>&1 || exit 102")
        if agent.command is not None:
            steps.append(f"command -v {shlex.quote(agent.command[0])} >/dev/null 2>&1 || exit 104")
        check = f"exec {shlex.quote(python)} -c {shlex.quote(CHECK_SCRIPT)}"
        if agent.module is not None:
            check += " " + shlex.quote(agent.module)
        steps.append(check)
        status, stdout, stderr = await host.run("; ".join(steps), json.dumps(env) + "\n")
        where = f"in {workdir}" if workdir else "in the remote home directory"
        match status:
            case 0 if PYTHON_MARK in stdout:
                return None
            case 0:
                return (
                    f"{python!r} ran the check without running it as Python: it is not a "
                    "Python interpreter (set deployment.python to python3's path)"
                )
            case 101:
                return f"the working directory {workdir} does not exist"
            case 102:
                return (
                    f"the Python interpreter {python!r} was not found (install python3 "
                    "there, or set deployment.python to its path)"
                )
            case 103:
                return (
                    f"module {agent.module!r} cannot be found by {python} {where} "
                    "(install it on that host, or set deployment.workdir)"
                )
            case 104:
                assert agent.command is not None
                return f"command {agent.command[0]!r} was not found {where}"
            case 105:
                return f"{python} is older than Python 3.7, which agentsup needs there"
        return f"checking the host failed (exit status {status}): {tail(stderr)}"

    # ----------------------------------------------------------- a reload

    def reload_preflight(self, reloaded: Reloaded) -> list[str]:
        """The start's checks for the new and changed agents, on their hosts; a host the
        job did not reach before is connected here, and kept for their launches."""
        fresh = reloaded.fresh(self.agents)
        if not fresh:
            return []
        for agent in fresh:
            endpoint = Endpoint.of(agent)
            if endpoint not in self._hosts:
                self._hosts[endpoint] = Host(endpoint, agent, self.context)
        timeout = 2 * self.context.ssh.timeout + 2 * COMMAND_TIMEOUT
        try:
            return self.loop.run(self._check_fresh(fresh, reloaded), timeout)
        except concurrent.futures.TimeoutError:
            return [f"checking the remote hosts took longer than {timeout:g} s"]

    async def _check_fresh(self, fresh: list[Agent], reloaded: Reloaded) -> list[str]:
        async def check(agent: Agent) -> str | None:
            host = self._hosts[Endpoint.of(agent)]
            try:
                await host.connection()
                problem = await self._check_agent(host, agent, reloaded.environment(agent))
            except RunnerError as exc:
                return f"agent {agent.id!r}: {exc}"
            except (OSError, ValueError) as exc:  # an env file the new file names
                return f"agent {agent.id!r}: cannot build its environment: {exc}"
            return None if problem is None else f"agent {agent.id!r} on {host.label}: {problem}"

        results = await asyncio.gather(*(check(agent) for agent in fresh))
        return [problem for problem in results if problem is not None]

    def reload_prepare(self, reloaded: Reloaded) -> None:
        agents_of: dict[Endpoint, list[Agent]] = {}
        for agent in reloaded.agents:
            agents_of.setdefault(Endpoint.of(agent), []).append(agent)
        self._agents_of = agents_of
        super().reload_prepare(reloaded)

    # ----------------------------------------------------------- agents

    def interpreter(self, agent: Agent) -> str:
        return watchdog_python(agent)

    def working_dir(self, agent: Agent) -> Path:
        return Path(agent.deployment.workdir or "~")

    def runner_for(self, agent: Agent) -> Runner:
        return SshRunner(self, self._hosts[Endpoint.of(agent)], agent)

    def close(self) -> None:
        loop = self._loop
        if loop is None:
            return

        async def close_all() -> None:
            await asyncio.gather(*(host.close() for host in self._hosts.values()))

        with contextlib.suppress(Exception):
            loop.run(close_all(), 10.0)
        loop.stop()
        self._loop = None

    # ----------------------------------------------------------- down

    @classmethod
    def down(cls, context: BackendContext, agents: list[Agent]) -> list[str]:
        backend = cls(context, agents)
        try:
            removed, problems = backend.loop.run(
                backend._down_all(), 2 * context.ssh.timeout + COMMAND_TIMEOUT
            )
        except concurrent.futures.TimeoutError:
            raise RunnerError("cleaning up the remote hosts took too long") from None
        finally:
            backend.close()
        if problems:
            raise RunnerError("; ".join(problems))
        return removed

    async def _down_all(self) -> tuple[list[str], list[str]]:
        results = await asyncio.gather(
            *(self._down_host(endpoint) for endpoint in self._hosts)
        )
        removed = [line for done, _ in results for line in done]
        problems = [line for _, failed in results for line in failed]
        return removed, problems

    async def _down_host(self, endpoint: Endpoint) -> tuple[list[str], list[str]]:
        host = self._hosts[endpoint]
        python = watchdog_python(self._agents_of[endpoint][0])
        config = {
            "mode": "down",
            "record_dir": record_dir(self.context.job_name),
            "agents": [agent.id for agent in self._agents_of[endpoint]],
        }
        command = f"exec {shlex.quote(python)} -c {shlex.quote(WATCHDOG_SOURCE)}"
        try:
            status, stdout, stderr = await host.run(command, json.dumps(config) + "\n")
        except RunnerError as exc:
            return [], [str(exc)]
        if status != 0:
            return [], [f"cleaning up on {host.label} failed (exit status {status}): "
                        f"{tail(stderr)}"]
        removed: list[str] = []
        problems: list[str] = []
        for line in stdout.splitlines():
            words = line.split()
            if len(words) != 5 or words[0] != "R":
                continue
            _, agent, pid, pgid, state = words
            if state == "killed":
                removed.append(
                    f"agent {agent!r} on {host.label}: process group {pgid} (pid {pid}) killed"
                )
            elif state == "gone":
                removed.append(f"agent {agent!r} on {host.label}: stale run record removed")
            else:
                problems.append(
                    f"agent {agent!r} on {host.label}: process group {pgid} did not end "
                    "after SIGKILL"
                )
        return removed, problems
