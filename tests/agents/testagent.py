"""A configurable agent for tests: a real process serving real HTTP.

Behaviour comes from environment variables (all optional):
  LISTEN_DELAY      seconds to wait before listening
  HEALTH_STATUS     status code of /health (200)
  UNHEALTHY_AFTER   seconds after listening when /health starts answering 500
  UNHEALTHY_FILE    while this file exists, /health answers 500
  EXIT_AFTER        seconds after start when the process exits with EXIT_CODE
  EXIT_CODE         exit code for EXIT_AFTER (1)
  IGNORE_TERM       "1": ignore SIGTERM
  GRANDCHILD        "1": start a grandchild (sleep) that ignores SIGTERM; print its pid
  PRINT_ENV         "1": print the agent's environment as one JSON line
  PRINT_NOFILE      "1": print its open-files limit as {"kind": "nofile", "soft": .., "hard": ..}
  PRINT_LINES       number of plain lines to print to stdout, and as many to stderr
  ECHO_FILE         print the lines of this file to stdout
  ESCAPE_PIDS_FILE  start a daemon that leaves the process group and session (double fork,
                    setsid, ignores SIGTERM) and a helper with its own session, then append
                    "LEADER DAEMON HELPER" to this file
"""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

started = time.monotonic()
listening_at = [0.0]


def env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    return float(value) if value else default


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status = 200
        if self.path.startswith("/health"):
            status = int(os.environ.get("HEALTH_STATUS", "200"))
            after = os.environ.get("UNHEALTHY_AFTER")
            if after and time.monotonic() - listening_at[0] > float(after):
                status = 500
            flag = os.environ.get("UNHEALTHY_FILE")
            if flag and os.path.exists(flag):
                status = 500
        body = json.dumps({"id": os.environ.get("AGENT_ID"), "pid": os.getpid()}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def escape(path: str) -> None:
    """Start processes that a process group cannot reach, the way daemons do."""
    read_end, write_end = os.pipe()
    middle = os.fork()
    if middle == 0:
        os.setsid()
        if os.fork() > 0:
            os._exit(0)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        os.write(write_end, f"{os.getpid()}\n".encode())
        time.sleep(600)
        os._exit(0)
    os.waitpid(middle, 0)
    os.close(write_end)
    daemon = int(os.read(read_end, 64))
    helper = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(600)"], start_new_session=True
    )
    with open(path, "a") as handle:
        handle.write(f"{os.getpid()} {daemon} {helper.pid}\n")


def main() -> None:
    if os.environ.get("IGNORE_TERM") == "1":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    else:
        signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    escape_file = os.environ.get("ESCAPE_PIDS_FILE")
    if escape_file:
        escape(escape_file)
    if os.environ.get("PRINT_ENV") == "1":
        print(json.dumps({"kind": "env", "env": dict(os.environ)}), flush=True)
    if os.environ.get("PRINT_NOFILE") == "1":
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        print(json.dumps({"kind": "nofile", "soft": soft, "hard": hard}), flush=True)
    if os.environ.get("GRANDCHILD") == "1":
        child = subprocess.Popen(
            [sys.executable, "-c",
             "import signal,time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)"]
        )
        print(json.dumps({"kind": "grandchild", "pid": child.pid}), flush=True)
    echo = os.environ.get("ECHO_FILE")
    if echo:
        with open(echo) as source:
            sys.stdout.write(source.read())
    lines = int(os.environ.get("PRINT_LINES", "0"))
    for i in range(lines):
        print(f"out line {i}")
        print(f"err line {i}", file=sys.stderr)
    sys.stdout.flush()
    exit_after = os.environ.get("EXIT_AFTER")
    if exit_after:
        code = int(os.environ.get("EXIT_CODE", "1"))
        timer = threading.Timer(float(exit_after), lambda: os._exit(code))
        timer.daemon = True
        timer.start()
    time.sleep(env_float("LISTEN_DELAY", 0.0))
    server = ThreadingHTTPServer(("127.0.0.1", int(os.environ["AGENT_PORT"])), Handler)
    listening_at[0] = time.monotonic()
    print(json.dumps({"kind": "listening", "port": server.server_address[1]}), flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
