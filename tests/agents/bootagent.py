"""An agent that takes its time to boot: a real process for readiness tests.

Environment:
  AGENT_PORT    the port to listen on, at 127.0.0.1
  LISTEN_AFTER  seconds before it listens ("never": it never does)
  EXIT_AFTER    seconds after which it exits with status 3 (unset: it does not)
It answers every GET with 200 once it listens.
"""

import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


def main() -> None:
    exit_after = os.environ.get("EXIT_AFTER")
    if exit_after is not None:
        timer = threading.Timer(float(exit_after), os._exit, args=(3,))
        timer.daemon = True
        timer.start()
    listen_after = os.environ.get("LISTEN_AFTER", "0")
    if listen_after == "never":
        threading.Event().wait()
    time.sleep(float(listen_after))
    ThreadingHTTPServer(("127.0.0.1", int(os.environ["AGENT_PORT"])), Handler).serve_forever()


if __name__ == "__main__":
    main()
