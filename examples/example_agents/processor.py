"""A DAG processor: POST /process transforms an item and forwards the result (fan-in).

The transformation is the agent's `config.operation` (AGENT_OPERATION): `upper`, `reverse`
or `count`.
"""

from __future__ import annotations

from collections.abc import Callable

from example_agents.common import JSON, Agent, HttpError, Request, Settings, call, join, log, main

OPERATIONS: dict[str, Callable[[str], JSON]] = {
    "upper": str.upper,
    "reverse": lambda text: text[::-1],
    "count": lambda text: len(text.split()),
}


class ProcessorAgent(Agent):
    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.operation = settings.option("operation", "upper")
        if self.operation not in OPERATIONS:
            raise SystemExit(f"unknown operation {self.operation!r}; one of {sorted(OPERATIONS)}")
        self.route("POST", "/process", self.process)

    def process(self, request: Request) -> JSON:
        item = request.body
        if not isinstance(item, dict):
            raise HttpError(400, "post a JSON object")
        result = {
            "item": item.get("id"),
            "processed_by": self.id,
            "operation": self.operation,
            "result": OPERATIONS[self.operation](str(item.get("text", ""))),
        }
        log("processed", item=result["item"], operation=self.operation)
        forwarded = [call(join(url, "/collect"), result) for url in self.settings.connected]
        return {**result, "forwarded_to": len(forwarded)}


if __name__ == "__main__":
    main(ProcessorAgent)
