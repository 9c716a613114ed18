"""A tiny benchmark agent: the standard library's HTTP server and nothing else.

Environment (all optional except AGENT_PORT):
  AGENT_PORT     the port to listen on
  LISTEN_DELAY   seconds to sleep before listening (default 0)
  PRINT_LINES    after listening, write this many plain lines to stdout as fast as possible,
                 between two JSON markers {"burst_start": t} and {"burst_end": t}

Right after the socket listens it prints one JSON line {"listening": time.time(), ...}, so
a benchmark can tell exactly when the agent became reachable. SIGTERM exits at once.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType

BODY = b'{"ok":true}'


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like any real agent framework

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, format: str, *args: object) -> None:
        pass


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a probe that connects and hangs up is not an error worth a traceback


def _exit_now(_signum: int, _frame: FrameType | None) -> None:
    os._exit(0)


def _burst(count: int) -> None:
    out = sys.stdout
    out.write(json.dumps({"burst_start": time.time()}) + "\n")
    out.flush()
    write = out.write
    for number in range(count):
        write(f"n {number}\n")
    out.write(json.dumps({"burst_end": time.time()}) + "\n")
    out.flush()


def main() -> None:
    signal.signal(signal.SIGTERM, _exit_now)
    port = int(os.environ["AGENT_PORT"])
    delay = float(os.environ.get("LISTEN_DELAY") or 0)
    if delay > 0:
        time.sleep(delay)
    server = Server(("127.0.0.1", port), Handler)  # binds and listens
    print(json.dumps({"listening": time.time(), "port": port}), flush=True)
    lines = int(os.environ.get("PRINT_LINES") or 0)
    if lines > 0:
        _burst(lines)
    server.serve_forever(poll_interval=3600)


if __name__ == "__main__":
    main()
