"""The remote half of a remote agent: a watchdog that runs on the agent's host.

This file is not imported by agentsup; `agentsup.runners.ssh` reads it and runs it on
the remote host as `python3 -c SOURCE` over the SSH session of one agent. It uses the
standard library only and runs on Python 3.7 or newer.

Its first line of stdin is a JSON configuration. In `run` mode it

1. ends the process group left behind by an earlier launch of the same agent (found
   through the agent's run record), unless that launch belongs to another live agentsup;
2. starts the agent's shell command as the leader of a new session and process group,
   and writes the run record (pid, process group, start times) to the job's directory;
3. relays the agent's output as framed lines on its own stdout (`O line`, `E line`;
   `o piece`, `e piece` for the leading pieces of a line longer than 64 KiB), after
   `P pid`, and finally `X exit_code signal` once the agent has exited and the rest
   of its group has been killed;
4. obeys `TERM`, `KILL` and signal-name (`SIGINT`) lines on stdin by signalling the
   whole group;
5. when stdin closes (agentsup died, or the connection dropped) or it is signalled,
   sends SIGTERM to the group, then SIGKILL after a short grace period, so that nothing
   outlives the SSH session by more than a few seconds;
6. is the agent's child subreaper: daemons that left the agent's group (`setsid` after a
   double fork) re-parent to it, are signalled with the group, and are killed whenever
   the agent ends, on every path above.

In `down` mode it kills every group recorded for the job and removes the records, one
`R agent pid pgid state` line per record.

A launch that cannot happen is answered with one `F message` line.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import subprocess
import sys
import time
from typing import Any

LINE_LIMIT = 64 * 1024
CLEAR_TIMEOUT = 5.0
DRAIN_TIMEOUT = 2.0
OTHER_WATCHDOG_TIMEOUT = 8.0

_signalled: list[int] = []
_children_changed: list[int] = []


def machine_directory(config: dict[str, Any]) -> str:
    """The job's record directory for this machine: homes may be shared between hosts
    (NFS), and a process group can only be ended on the machine it runs on."""
    machine = ""
    for path in ("/etc/machine-id", "/var/lib/dbus/machine-id"):
        try:
            with open(path) as handle:
                machine = handle.read().strip()
        except OSError:
            continue
        if machine:
            break
    if not machine:
        import socket

        machine = socket.gethostname() or "unknown"
    return os.path.join(os.path.expanduser(str(config["record_dir"])), machine)


def write_all(data: bytes) -> bool:
    """Write to stdout; False once the reader is gone (the session has closed)."""
    view = memoryview(data)
    while view:
        try:
            written = os.write(1, view)
        except InterruptedError:
            continue
        except OSError:
            return False
        view = view[written:]
    return True


def send(kind: str, payload: bytes = b"") -> bool:
    return write_all(kind.encode() + b" " + payload + b"\n")


def start_time(pid: int) -> str | None:
    """The kernel's start time of `pid` (guards against reused pids); None if unknown."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            data = handle.read()
    except OSError:
        return None
    fields = data.rsplit(")", 1)[-1].split()
    return fields[19] if len(fields) > 19 else None


def process_is(pid: int, started: str | None) -> bool:
    """Whether `pid` is alive and is still the process that started at `started`."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    now = start_time(pid)
    return started is None or now is None or now == started


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


PR_SET_CHILD_SUBREAPER = 36


def become_subreaper() -> bool:
    """Make orphaned descendants re-parent to this watchdog instead of init.

    An agent's daemon that double-forks into a session of its own leaves the agent's
    process group; as our descendant it can still be found and ended with the agent.
    """
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def descendants() -> list[tuple[int, int, str]]:
    """(pid, process group, state) of every process below this one, from /proc."""
    children: dict[int, list[tuple[int, int, str]]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[-1].split()
        except OSError:
            continue
        if len(fields) > 2:
            children.setdefault(int(fields[1]), []).append(
                (int(name), int(fields[2]), fields[0])
            )
    found: list[tuple[int, int, str]] = []
    stack = [os.getpid()]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child[0])
    return found


def signal_escaped(pgid: int, signum: int) -> int:
    """Signal the live descendants outside the agent's group; how many there were."""
    count = 0
    for pid, group, state in descendants():
        if group != pgid and state != "Z":
            count += 1
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signum)
    return count


def reap_orphans(leader: int) -> None:
    """Collect the exits of re-parented descendants; the leader is reaped elsewhere."""
    for pid, _, state in descendants():
        if pid != leader and state == "Z":
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)


def end_escaped(pgid: int) -> None:
    """SIGKILL what escaped the agent's group until nothing is left (or CLEAR_TIMEOUT)."""
    deadline = time.monotonic() + CLEAR_TIMEOUT
    while signal_escaped(pgid, signal.SIGKILL) and time.monotonic() < deadline:
        time.sleep(0.02)
        reap_orphans(pgid)
    reap_orphans(pgid)


def kill_recorded_group(record: dict[str, Any]) -> bool:
    """SIGKILL the group a record names; True once it is gone (within CLEAR_TIMEOUT).

    A group id stays reserved while the group has members, so if its number now
    belongs to a different process, the recorded group has already ended.
    """
    pgid = int(record["pgid"])
    leader_start = start_time(pgid)
    recorded = record.get("pid_start")
    if leader_start is not None and recorded is not None and leader_start != recorded:
        return True
    signal_group(pgid, signal.SIGKILL)
    deadline = time.monotonic() + CLEAR_TIMEOUT
    while group_alive(pgid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def read_record(path: str) -> dict[str, Any] | None:
    try:
        with open(path) as handle:
            record = json.load(handle)
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        remove(path)
        return None
    return record if isinstance(record, dict) and "pgid" in record else None


def write_record(path: str, record: dict[str, Any]) -> None:
    temporary = path + ".tmp"
    for attempt in range(5):
        # Another agent's watchdog may just have removed the emptied directory.
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        try:
            with open(temporary, "w") as handle:
                json.dump(record, handle)
            os.replace(temporary, path)
            return
        except FileNotFoundError:
            if attempt == 4:
                raise


def remove(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


def finish(path: str) -> None:
    """Remove a run record, and the job's directories once they are empty."""
    remove(path)
    directory = os.path.dirname(path)
    with contextlib.suppress(OSError):
        os.rmdir(directory)
        os.rmdir(os.path.dirname(directory))


def clear_previous(path: str, run_id: str, agent: str) -> str | None:
    """End what an earlier launch of this agent left; a problem sentence if we must not."""
    record = read_record(path)
    if record is None:
        return None
    watchdog = record.get("watchdog_pid")
    if record.get("run_id") != run_id and isinstance(watchdog, int):
        # Its watchdog may be ending the group right now (its agentsup just died): give
        # it the time that takes before calling the agent taken.
        deadline = time.monotonic() + OTHER_WATCHDOG_TIMEOUT
        while process_is(watchdog, record.get("watchdog_start")):
            if time.monotonic() > deadline:
                break
            time.sleep(0.1)
        else:
            watchdog = None
    if record.get("run_id") != run_id and isinstance(watchdog, int):
        return (
            f"agent {agent} is already running on this host under another agentsup "
            f"(process group {record.get('pgid')}); stop that job first, or run "
            "`agentsup down` for it"
        )
    if not kill_recorded_group(record):
        return f"the previous process group {record.get('pgid')} of agent {agent} did not end"
    remove(path)
    return None


def cut_point(data: bytes, limit: int) -> int:
    """Where to split an over-long line without cutting a UTF-8 sequence in half."""
    cut = limit
    while cut > limit - 3 and data[cut] & 0xC0 == 0x80:
        cut -= 1
    # No lead byte within reach: the bytes are not valid UTF-8, any cut is as good.
    return cut if data[cut] & 0xC0 != 0x80 else limit


class Relay:
    """Splits one pipe's chunks into lines and sends them framed as `kind line`.

    A line longer than LINE_LIMIT goes in pieces cut between UTF-8 characters: every
    piece but the last is framed with the lower-case kind (`o`, `e`), so the other
    side knows more of the same line follows.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.partial = b""

    def feed(self, data: bytes) -> None:
        self.partial += data
        start = 0
        while True:
            cut = self.partial.find(b"\n", start)
            if cut < 0:
                break
            self.emit(self.partial[start:cut])
            start = cut + 1
        self.partial = self.partial[start:]
        # One spare byte, so a "\r" whose "\n" has not arrived is not cut off alone.
        while len(self.partial) > LINE_LIMIT + 1:
            cut = cut_point(self.partial, LINE_LIMIT)
            send(self.kind.lower(), self.partial[:cut])
            self.partial = self.partial[cut:]

    def flush(self) -> None:
        if self.partial:
            self.emit(self.partial)
            self.partial = b""

    def emit(self, line: bytes) -> None:
        if line.endswith(b"\r"):
            line = line[:-1]
        while len(line) > LINE_LIMIT:
            cut = cut_point(line, LINE_LIMIT)
            send(self.kind.lower(), line[:cut])
            line = line[cut:]
        send(self.kind, line)


def exited(pid: int) -> bool:
    """Whether the leader has exited; it stays unreaped, so its group id stays ours."""
    try:
        info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return True
    return info is not None


def reap(pid: int) -> tuple[int | None, int | None]:
    try:
        _, status = os.waitpid(pid, 0)
    except ChildProcessError:
        return None, None
    if os.WIFSIGNALED(status):
        return None, os.WTERMSIG(status)
    return os.WEXITSTATUS(status), None


def on_signal(signum: int, _frame: object) -> None:
    _signalled.append(signum)


def on_child(_signum: int, _frame: object) -> None:
    _children_changed.append(1)


def run(config: dict[str, Any], pending: bytes) -> int:
    agent = str(config["agent"])
    directory = machine_directory(config)
    grace = float(config.get("grace", 3.0))
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
    except OSError as exc:
        send("F", (f"cannot create the run-record directory {directory}: {exc}").encode())
        return 0
    path = os.path.join(directory, agent + ".json")
    become_subreaper()
    signal.signal(signal.SIGCHLD, on_child)
    problem = clear_previous(path, str(config["run_id"]), agent)
    if problem is not None:
        send("F", problem.encode())
        return 0
    try:
        env = dict(os.environ)
        env.update({str(k): str(v) for k, v in (config.get("env") or {}).items()})
        process = subprocess.Popen(
            ["/bin/sh", "-c", str(config["command"]), "sh"]
            + [str(word) for word in config.get("argv") or []],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
    except OSError as exc:
        send("F", (f"cannot start /bin/sh: {exc}").encode())
        return 0
    pid = process.pid
    assert process.stdout is not None and process.stderr is not None
    write_record(
        path,
        {
            "agent": agent,
            "run_id": config["run_id"],
            "pid": pid,
            "pgid": pid,
            "pid_start": start_time(pid),
            "watchdog_pid": os.getpid(),
            "watchdog_start": start_time(os.getpid()),
        },
    )
    send("P", str(pid).encode())

    selector = selectors.DefaultSelector()
    relays = {
        process.stdout.fileno(): Relay("O"),
        process.stderr.fileno(): Relay("E"),
    }
    for fd in relays:
        os.set_blocking(fd, False)
        selector.register(fd, selectors.EVENT_READ)
    selector.register(0, selectors.EVENT_READ)
    commands = pending
    orphaned = False

    def read_pipes(timeout: float) -> None:
        nonlocal commands, orphaned
        for key, _ in selector.select(timeout):
            fd = int(key.fd)
            try:
                data = os.read(fd, 65536)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if fd == 0:
                if not data:
                    orphaned = True
                    selector.unregister(0)
                commands += data
                continue
            if data:
                relays[fd].feed(data)
            else:
                relays[fd].flush()
                selector.unregister(fd)

    def obey() -> None:
        nonlocal commands
        while b"\n" in commands:
            line, commands = commands.split(b"\n", 1)
            word = line.strip()
            if word == b"TERM":
                signal_group(pid, signal.SIGTERM)
                signal_escaped(pid, signal.SIGTERM)
            elif word == b"KILL":
                signal_group(pid, signal.SIGKILL)
                signal_escaped(pid, signal.SIGKILL)
            elif word.startswith(b"SIG"):  # a stop signal by name: b"SIGINT"
                named = getattr(signal, word.decode("ascii", "replace"), None)
                if isinstance(named, signal.Signals):
                    signal_group(pid, named)
                    signal_escaped(pid, named)

    while not exited(pid):
        obey()
        if _children_changed:
            del _children_changed[:]
            reap_orphans(pid)
        if orphaned or _signalled:
            # Nobody is listening any more: end the group, quietly.
            signal_group(pid, signal.SIGTERM)
            signal_escaped(pid, signal.SIGTERM)
            deadline = time.monotonic() + grace
            while not exited(pid) and time.monotonic() < deadline:
                read_pipes(0.05)
            signal_group(pid, signal.SIGKILL)
            reap(pid)
            end_escaped(pid)
            deadline = time.monotonic() + CLEAR_TIMEOUT
            while group_alive(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            finish(path)
            return 0
        read_pipes(0.1)

    # The leader has exited but is not reaped yet: whatever is left of its group goes,
    # and so does whatever escaped it.
    signal_group(pid, signal.SIGKILL)
    code, signum = reap(pid)
    end_escaped(pid)
    deadline = time.monotonic() + DRAIN_TIMEOUT
    while len(selector.get_map()) > (0 if orphaned else 1) and time.monotonic() < deadline:
        read_pipes(0.05)
    for relay in relays.values():
        relay.flush()
    finish(path)
    code_text = "-" if code is None else str(code)
    signal_text = "-" if signum is None else str(signum)
    send("X", f"{code_text} {signal_text}".encode())
    return 0


def down(config: dict[str, Any]) -> int:
    directory = machine_directory(config)
    agents = set(config.get("agents") or [])
    try:
        names = sorted(os.listdir(directory))
    except FileNotFoundError:
        return 0
    for name in names:
        path = os.path.join(directory, name)
        if name.endswith(".json.tmp"):
            remove(path)
            continue
        if not name.endswith(".json") or name[: -len(".json")] not in agents:
            continue
        record = read_record(path)
        if record is None:
            remove(path)
            continue
        pgid = int(record["pgid"])
        leader = start_time(pgid)
        was_alive = group_alive(pgid) and (
            leader is None or record.get("pid_start") in (None, leader)
        )
        gone = kill_recorded_group(record)
        state = "killed" if was_alive and gone else ("stuck" if not gone else "gone")
        if gone:
            remove(path)
        agent = name[: -len(".json")]
        send("R", f"{agent} {record.get('pid')} {pgid} {state}".encode())
    with contextlib.suppress(OSError):
        os.rmdir(directory)
        os.rmdir(os.path.dirname(directory))
    return 0


def main() -> int:
    for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(signum, on_signal)
    received = b""
    while b"\n" not in received:
        chunk = os.read(0, 65536)
        if not chunk:
            return 0
        received += chunk
    first, rest = received.split(b"\n", 1)
    config = json.loads(first.decode())
    if config.get("mode") == "down":
        return down(config)
    return run(config, rest)


if __name__ == "__main__":
    sys.exit(main())
