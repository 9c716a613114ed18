"""A test agent that records which signal asked it to stop.

It serves `/health` on AGENT_PORT and, on any of the usual stop signals, writes the
signal's name to SIGNAL_FILE and exits 0; SIGTERM is handled like the others, so an
agent stopped with the wrong signal shows it in the file.
"""

import os
import signal
import sys
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
    with open(os.environ["SIGNAL_FILE"], "a") as handle:
        handle.write(signal.Signals(signum).name + "\n")
    os._exit(0)


def main() -> None:
    for name in ("SIGTERM", "SIGINT", "SIGHUP", "SIGQUIT", "SIGUSR1"):
        signal.signal(signal.Signals[name], record)
    server = ThreadingHTTPServer(("127.0.0.1", int(os.environ["AGENT_PORT"])), Handler)
    print("listening", flush=True)
    sys.stdout.flush()
    server.serve_forever()


if __name__ == "__main__":
    main()
