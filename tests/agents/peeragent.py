"""A stdlib-only agent that proves it can reach its peers through the URLs it was given.

It runs the same way on this machine and in a container (`python3 -c "<this file>"`):

  GET /health  200
  GET /whoami  {"id": AGENT_ID}
  GET /peers   GETs `<url>/whoami` for every URL in CONNECTED_AGENTS (once, 5 s timeout)
               and answers {"id": AGENT_ID, "results": {url: {"id": ...} or {"error": ...}}}

At start it prints one JSON line to stdout (`{"kind": "listening", ...}`) and one plain
line to stderr, so that the streams can be told apart. It listens on BIND_ADDRESS
(0.0.0.0 by default: inside a container the published port arrives on the container's
own address, and a container reaches the Docker host's agents on the bridge address).
SIGTERM ends it with exit code 0.
"""

import json
import os
import signal
import sys
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def whoami(url: str) -> dict[str, object]:
    try:
        with urllib.request.urlopen(url + "/whoami", timeout=5) as response:
            body: dict[str, object] = json.loads(response.read())
            return {"id": body.get("id")}
    except Exception as exc:
        return {"error": f"{type(exc).__name__}: {exc}"}


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        me = os.environ.get("AGENT_ID")
        if self.path == "/peers":
            urls = [u for u in os.environ.get("CONNECTED_AGENTS", "").split(",") if u]
            body: dict[str, object] = {"id": me, "results": {u: whoami(u) for u in urls}}
        else:
            body = {"id": me}
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


def main() -> None:
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    port = int(os.environ["AGENT_PORT"])
    server = ThreadingHTTPServer((os.environ.get("BIND_ADDRESS", "0.0.0.0"), port), Handler)
    print(json.dumps({"kind": "listening", "id": os.environ.get("AGENT_ID"), "port": port}),
          flush=True)
    print(f"stderr line from {os.environ.get('AGENT_ID')}", file=sys.stderr, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
