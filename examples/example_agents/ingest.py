"""The DAG's entry: POST /ingest sends the item to every connected processor (fan-out)."""

from __future__ import annotations

import itertools
import threading

from example_agents.common import JSON, Agent, HttpError, Request, Settings, call, join, log, main


class IngestAgent(Agent):
    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.route("POST", "/ingest", self.ingest)

    def ingest(self, request: Request) -> JSON:
        if not isinstance(request.body, dict):
            raise HttpError(400, 'post a JSON object, like {"text": "hello"}')
        item = dict(request.body)
        if "id" not in item:
            with self._lock:
                item["id"] = f"{self.id}-{next(self._ids)}"
        item["ingested_by"] = self.id
        peers = self.settings.peers()
        log("ingest", item=item["id"], to=list(peers))
        sent = {peer: call(join(url, "/process"), item) for peer, url in peers.items()}
        return {"id": item["id"], "sent_to": list(sent), "answers": sent}


if __name__ == "__main__":
    main(IngestAgent)
