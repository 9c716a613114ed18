"""The bare launcher as a program of its own, so it can be timed from its spawn like the CLI.

A user who does without agentsup runs a script like this one: it starts each stage's
processes at once and polls their ports every 5 ms, nothing more (no health checks, no
output handling, no restarts). Timing it from spawning its interpreter, as the CLI is
timed, puts interpreter start and imports on both sides of the comparison.

Usage: python bench/bare.py SPEC.json, where SPEC.json holds
  {"command": [...], "stages": [[[port, {env}], ...], ...], "timeout": seconds}
It prints one JSON line {"first_spawn": t, "last_open": t} (time.time()) once every
port is open, then holds its children until stdin closes or SIGTERM arrives, and ends
them with SIGTERM (SIGKILL after 5 s).

With BARE_IMPORTS=yaml,pydantic,pykka in its environment it first imports those
modules, before anything else: the floor that agentsup's libraries alone set under the
same timing, so a benchmark can tell their share of the gap from agentsup's own.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time


def _open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _wait(ports: list[int], timeout: float) -> float:
    pending = set(ports)
    deadline = time.monotonic() + timeout
    while pending:
        for port in list(pending):
            if _open(port):
                pending.discard(port)
        if not pending:
            break
        if time.monotonic() > deadline:
            raise SystemExit(f"bare: {len(pending)} of {len(ports)} ports never opened")
        time.sleep(0.005)
    return time.time()


def main() -> int:
    for name in filter(None, os.environ.get("BARE_IMPORTS", "").split(",")):
        __import__(name)
    with open(sys.argv[1]) as handle:
        spec = json.load(handle)
    children: list[subprocess.Popen[bytes]] = []

    def stop(*_: object) -> None:
        for child in children:
            if child.poll() is None:
                child.terminate()
        for child in children:
            try:
                child.wait(timeout=5)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    first = time.time()
    last = first
    for stage in spec["stages"]:
        for _port, env in stage:
            children.append(
                subprocess.Popen(
                    spec["command"],
                    env={**os.environ, **env},
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,
                )
            )
        last = _wait([port for port, _ in stage], float(spec.get("timeout", 60)))
    print(json.dumps({"first_spawn": first, "last_open": last}), flush=True)
    sys.stdin.read()
    stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
