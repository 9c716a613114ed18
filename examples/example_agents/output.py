"""The DAG's sink: POST /collect keeps a result; GET /results lists them (?item= filters)."""

from __future__ import annotations

import threading

from example_agents.common import JSON, Agent, HttpError, Request, Settings, log, main


class OutputAgent(Agent):
    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self._lock = threading.Lock()
        self._results: list[dict[str, JSON]] = []
        self.route("POST", "/collect", self.collect)
        self.route("GET", "/results", self.results)

    def collect(self, request: Request) -> JSON:
        if not isinstance(request.body, dict):
            raise HttpError(400, "post a JSON object")
        with self._lock:
            self._results.append(request.body)
            count = len(self._results)
        result = request.body
        log("collected", item=result.get("item"), processed_by=result.get("processed_by"))
        return {"collected": count}

    def results(self, request: Request) -> JSON:
        item = request.query.get("item")
        with self._lock:
            results = [r for r in self._results if item is None or r.get("item") == item]
        return {"id": self.id, "count": len(results), "results": results}


if __name__ == "__main__":
    main(OutputAgent)
