"""A test agent that records which signal asked it to stop.

It serves `/health` on AGENT_PORT (on BIND_ADDRESS, 127.0.0.1 by default) and, on any
of the usual stop signals, prints `{"kind": "signal", "name": NAME}`, appends the name to
SIGNAL_FILE when that is set, and exits 0. SIGTERM is handled like the others, so an
agent stopped with the wrong signal says so. No imports beyond the standard library: it
also runs in containers as `python3 -c SOURCE`.
"""

import json
import os
import signal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


def record(signum: int, _frame: FrameType | None) -> None:
    name = signal.Signals(signum).name
    print(json.dumps({"kind": "signal", "name": name}), flush=True)
    if os.environ.get("SIGNAL_FILE"):
        with open(os.environ["SIGNAL_FILE"], "a") as handle:
            handle.write(name + "\n")
    os._exit(0)


def main() -> None:
    for name in ("SIGTERM", "SIGINT", "SIGHUP", "SIGQUIT", "SIGUSR1"):
        signal.signal(signal.Signals[name], record)
    address = (os.environ.get("BIND_ADDRESS", "127.0.0.1"), int(os.environ["AGENT_PORT"]))
    server = ThreadingHTTPServer(address, Handler)
    print("listening", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
