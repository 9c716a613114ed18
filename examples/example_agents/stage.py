"""A pipeline stage: POST /record takes a JSON record, works on it and passes it on.

Each stage appends its id to `record["path"]`, applies its `operation` (the agent's
`config.operation`, told as AGENT_OPERATION) and posts the record to every connected agent
(the next stage), answering with what comes back. The last stage answers with the record.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from example_agents.common import JSON, Agent, HttpError, Request, Settings, call, join, log, main

Record = dict[str, JSON]


def parse(record: Record) -> None:
    record["words"] = str(record.get("text", "")).split()


def enrich(record: Record) -> None:
    words = record.get("words") or str(record.get("text", "")).split()
    record["word_count"] = len(words)
    record["longest_word"] = max(words, key=len, default="")


OPERATIONS: dict[str, Callable[[Record], None]] = {
    "parse": parse,
    "enrich": enrich,
    "store": lambda record: None,  # storing happens in the agent, which owns the list
    "pass": lambda record: None,
}


class StageAgent(Agent):
    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.operation = settings.option("operation", "pass")
        if self.operation not in OPERATIONS:
            raise SystemExit(f"unknown operation {self.operation!r}; one of {sorted(OPERATIONS)}")
        self._lock = threading.Lock()
        self._stored: list[Record] = []
        self.route("POST", "/record", self.record)
        self.route("GET", "/records", self.records)

    def record(self, request: Request) -> JSON:
        if not isinstance(request.body, dict):
            raise HttpError(400, 'post a JSON object, like {"text": "hello world"}')
        record: Record = dict(request.body)
        path = record.get("path")
        record["path"] = [*path, self.id] if isinstance(path, list) else [self.id]
        OPERATIONS[self.operation](record)
        if self.operation == "store":
            with self._lock:
                record["stored_as"] = len(self._stored)
                self._stored.append(record)
        log("record", operation=self.operation, path=record["path"])
        nexts = self.settings.connected
        if not nexts:
            return record
        answers = [call(join(url, "/record"), record) for url in nexts]
        return answers[0] if len(answers) == 1 else {"branches": answers}

    def records(self, request: Request) -> JSON:
        with self._lock:
            return {"id": self.id, "records": list(self._stored)}


if __name__ == "__main__":
    main(StageAgent)
