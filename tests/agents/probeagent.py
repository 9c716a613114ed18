"""An agent for probe tests: a real process that answers the way one kind of agent does.

Environment (all optional besides AGENT_PORT):
  BIND          address to listen on ("127.0.0.1"; "::1" for an IPv6-only agent)
  NO_LISTEN     "1": never listen (for exec and log probes, and the port squatter)
  TLS_CERT, TLS_KEY  serve HTTPS with this certificate
  CARD          "new": an A2A card at /.well-known/agent-card.json; "old": only at
                /.well-known/agent.json
  READY_AFTER   seconds before /ready answers 200 (503 before) and "model loaded" is printed
  READY_FILE    exec probes: the file created once READY_AFTER has passed
  CHUNKED       "1": answer /health with a chunked body
Paths: /health and /live answer 200; /ready as above; anything else 404.
"""

import json
import os
import signal
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

started = time.monotonic()
ready_after = float(os.environ.get("READY_AFTER", "0"))


def is_ready() -> bool:
    return time.monotonic() - started >= ready_after


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        card = os.environ.get("CARD")
        name = os.environ.get("AGENT_ID", "agent")
        card_body = json.dumps({"name": f"{name}-card", "url": f"http://x/{name}",
                                "version": "1"}).encode()
        if (card == "new" and self.path == "/.well-known/agent-card.json") or (
            card == "old" and self.path == "/.well-known/agent.json"
        ):
            self.answer(200, card_body)
        elif self.path in ("/health", "/live"):
            if os.environ.get("CHUNKED") == "1":
                self.send_response(200)
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for piece in (b'{"ok":', b" true}"):
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                self.wfile.write(b"0\r\n\r\n")
                return
            self.answer(200, b"ok")
        elif self.path == "/ready":
            self.answer(200 if is_ready() else 503, b"")
        else:
            self.answer(404, b"")

    def answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


class Server(ThreadingHTTPServer):
    daemon_threads = True


def announce_when_ready() -> None:
    time.sleep(ready_after)
    flag = os.environ.get("READY_FILE")
    if flag:
        Path(flag).write_text("ready")
    print("model loaded, serving", flush=True)


def main() -> None:
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    print("loading model", flush=True)
    threading.Thread(target=announce_when_ready, daemon=True).start()
    if os.environ.get("NO_LISTEN") == "1":
        while True:
            time.sleep(60)
    bind = os.environ.get("BIND", "127.0.0.1")
    if ":" in bind:
        Server.address_family = __import__("socket").AF_INET6
    server = Server((bind, int(os.environ["AGENT_PORT"])), Handler)
    cert = os.environ.get("TLS_CERT")
    if cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, os.environ["TLS_KEY"])
        server.socket = context.wrap_socket(server.socket, server_side=True)
    print(json.dumps({"kind": "listening", "bind": bind}), flush=True)
    sys.stdout.flush()
    server.serve_forever()


if __name__ == "__main__":
    main()
