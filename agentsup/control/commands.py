"""`agentsup status|restart|stop|logs|reload`: the commands that talk to a running job.

Exit codes follow the rest of the CLI: 0 done, 1 the job is not running or the request
failed (an agent did not come back), 2 the command line or the job file is invalid.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from agentsup.control.arguments import looks_like_path
from agentsup.control.rundir import BadJobArgument, ControlError, control_dir, job_paths
from agentsup.exitcodes import EXIT_FAILED, EXIT_INVALID, EXIT_OK

if TYPE_CHECKING:
    from agentsup.control.client import ControlClient

def job_name(argument: str) -> str:
    """The name of the job that `argument` (a job file or a job's name) stands for.

    A file is first looked up among the running jobs' records of the file each was
    started from: the job runs under the name it had then, even when the file has been
    deleted or its `job.name` edited since. Only a file no running job was started
    from is read for its `job.name`.
    """
    path = Path(argument)
    exists = path.is_file()
    if not exists and not looks_like_path(argument):
        return argument  # checked as a name by `job_paths`
    from agentsup.control.running import started_from

    started = started_from(path)
    if len(started) == 1:
        return started[0]
    if not exists:
        if started:
            raise BadJobArgument(_several(argument, started))
        raise BadJobArgument(f"{argument}: no such job file, and no running job was "
                             "started from it")
    name = _name_in_file(path)
    if started and name not in started:
        raise BadJobArgument(_several(argument, started))
    return name


def _several(argument: str, names: list[str]) -> str:
    """The file was started under several names (its `job.name` edited in between)."""
    listed = ", ".join(repr(name) for name in names)
    return f"{argument}: jobs {listed} were all started from this file; name the job instead"


def _name_in_file(path: Path) -> str:
    """The `job.name` a job file says now."""
    try:
        document = yaml.safe_load(path.read_text())
        name = document["job"]["name"]
        if isinstance(name, str) and name:
            return name
    except (OSError, yaml.YAMLError, TypeError, KeyError):
        pass
    from agentsup.job.loader import load_job  # reports the file's problems with positions

    return load_job(path, import_check=False).definition.job.name


def run(args: argparse.Namespace) -> int:
    try:
        match args.command:
            case "status":
                return _status(args)
            case "restart":
                return _restart(args)
            case "stop":
                return _stop(args)
            case "logs":
                return _logs(args)
            case "reload":
                return _reload(args)
    except BadJobArgument as exc:
        print(f"agentsup: {exc}", file=sys.stderr)
        return EXIT_INVALID
    except ControlError as exc:
        print(f"agentsup: {exc}", file=sys.stderr)
        return EXIT_FAILED
    raise AssertionError(args.command)  # pragma: no cover - argparse guards


def _client(argument: str, timeout: float | None = 30.0) -> ControlClient:
    """The client for the job a command line's JOB stands for."""
    return _client_of(job_name(argument), timeout)


def _client_of(name: str, timeout: float | None = 30.0) -> ControlClient:
    """The client for the job called `name`."""
    # http.client (with ssl and email) is imported by the control commands only: every
    # other command builds this parser too, and would pay for it on each run.
    from agentsup.control.client import ControlClient

    return ControlClient(job_paths(name), timeout=timeout)


def _failed(status: int, body: dict[str, Any]) -> int:
    print(f"agentsup: {body.get('error', f'HTTP {status}')}", file=sys.stderr)
    return EXIT_INVALID if status in (400, 404) else EXIT_FAILED


def _status(args: argparse.Namespace) -> int:
    from agentsup.control.client import NotRunning

    if args.job is not None:
        status, body = _client(args.job).call("GET", "/v1/status")
        if status != 200:
            return _failed(status, body)
        print(json.dumps(body) if args.json else _table(body))
        return EXIT_OK
    found = []
    for socket_path in sorted(control_dir().glob("*.sock")):
        try:
            # A socket's name is a job's name, even where a file of that name exists.
            status, body = _client_of(socket_path.stem).call("GET", "/v1/status")
        except NotRunning:
            continue  # left by a supervisor that died; the next start replaces it
        if status == 200:
            found.append(body)
    if args.json:
        print(json.dumps({"jobs": found}))
    elif not found:
        print("no job is running")
    else:
        print("\n\n".join(_table(body) for body in found))
    return EXIT_OK


def _table(body: dict[str, Any]) -> str:
    """The live view's table (`jobview.table`), under a line that names the job: the
    same rows a person watching `agentsup start` sees. Colour only on a terminal."""
    import io

    from rich.console import Console

    from agentsup.eventtext import Palette
    from agentsup.jobview import AgentRow, Snapshot, table

    rows = [
        AgentRow(
            agent=str(agent["id"]),
            stage=int(agent.get("stage") or 0),
            state=str(agent["state"]),
            pid=agent.get("pid"),
            host=str(agent.get("host") or ""),
            url=str(agent.get("url") or ""),
            # `since` is kept relative to a clock reading of 0: uptime = 0 - since
            since=None if agent.get("uptime") is None else -float(agent["uptime"]),
            restarts=int(agent.get("restarts") or 0),
            health=str(agent.get("health") or ""),
        )
        for agent in body["agents"]
    ]
    snapshot = Snapshot(job=str(body["job"]), phase=str(body["phase"]), stage=0,
                        stages=0, rows=rows, now=0.0)
    out = io.StringIO()
    console = Console(file=out, force_terminal=sys.stdout.isatty(), width=200,
                      highlight=False, soft_wrap=True)
    console.print(f"job {body['job']} ({body['phase']}, supervisor pid {body['pid']}, "
                  f"{body['file']})")
    console.print(table(snapshot, Palette()))
    return out.getvalue().rstrip("\n")


def _outcomes(body: dict[str, Any]) -> None:
    for agent, outcome in body.get("agents", {}).items():
        print(f"{agent}: {outcome}")


def _restart(args: argparse.Namespace) -> int:
    status, body = _client(args.job, timeout=None).call(
        "POST", "/v1/restart", {"agents": args.agents}
    )
    if status != 200:
        return _failed(status, body)
    _outcomes(body)
    return EXIT_OK if body.get("ok") else EXIT_FAILED


def _stop(args: argparse.Namespace) -> int:
    from agentsup.control.client import NotRunning

    client = _client(args.job, timeout=None)
    status, body = client.call("POST", "/v1/stop", {"agents": args.agents})
    if status not in (200, 202):
        return _failed(status, body)
    if args.agents:
        _outcomes(body)
        return EXIT_OK if body.get("ok") else EXIT_FAILED
    # The whole job: it has begun its graceful stop; return once it is gone.
    while True:
        try:
            client.call("GET", "/v1/status")
        except NotRunning:
            print(f"job {client.paths.name!r} stopped")
            return EXIT_OK
        time.sleep(0.1)


def _logs(args: argparse.Namespace) -> int:
    if args.lines < 0:
        print("agentsup: -n must not be negative", file=sys.stderr)
        return EXIT_INVALID
    client = _client(args.job, timeout=None)
    try:
        for batch in client.lines(args.agents, args.lines, args.follow):
            shown: list[str] = []
            for line in batch:
                if "missed" not in line:
                    shown.append(f"{line['agent']} | {line['line']}\n")
                    continue
                # The follower fell behind the agent; say so where the gap is.
                sys.stdout.write("".join(shown))
                shown.clear()
                sys.stdout.flush()
                print(f"agentsup: {line['missed']} lines of {line['agent']} missed here: "
                      "`logs -f` fell behind", file=sys.stderr, flush=True)
            sys.stdout.write("".join(shown))
            if args.follow:
                sys.stdout.flush()
    except ControlError as exc:
        print(f"agentsup: {exc}", file=sys.stderr)
        return EXIT_INVALID if str(exc).startswith("no agent") else EXIT_FAILED
    except KeyboardInterrupt:
        return EXIT_OK
    return EXIT_OK


def _reload(args: argparse.Namespace) -> int:
    status, body = _client(args.job, timeout=None).call("POST", "/v1/reload", {})
    if status == 422:
        for problem in body.get("problems", []):
            print(problem, file=sys.stderr)
        return EXIT_INVALID
    if status != 200:
        return _failed(status, body)
    for what in ("added", "removed", "restarted"):
        print(f"{what}: {', '.join(body.get(what, [])) or '-'}")
    if body.get("reconnected"):  # callers that followed a restarted agent to its new URL
        print(f"reconnected: {', '.join(body['reconnected'])}")
    failed = {a: o for a, o in body.get("agents", {}).items() if o != "ready"}
    for agent, outcome in failed.items():
        print(f"{agent}: {outcome}")
    if body.get("error"):
        print(f"agentsup: {body['error']}", file=sys.stderr)
    return EXIT_OK if body.get("ok") else EXIT_FAILED
