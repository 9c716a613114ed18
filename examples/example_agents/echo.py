"""A generic agent: GET / says who it is and whom it connects to; GET /peers greets them."""

from __future__ import annotations

from example_agents.common import JSON, Agent, PeerError, Request, Settings, call, join, main


class EchoAgent(Agent):
    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.route("GET", "/", self.describe)
        self.route("GET", "/peers", self.peers)

    def describe(self, request: Request) -> JSON:
        return {
            "id": self.id,
            "job": self.settings.job,
            "connected_agents": self.settings.connected,
            "connections": self.settings.connections,
        }

    def peers(self, request: Request) -> JSON:
        """Each peer's /health, or the error calling it gave."""
        answers: dict[str, JSON] = {}
        for peer, url in self.settings.peers().items():
            try:
                answers[peer] = call(join(url, "/health"), timeout=2.0)
            except PeerError as exc:
                answers[peer] = {"error": str(exc)}
        return {"id": self.id, "peers": answers}


if __name__ == "__main__":
    main(EchoAgent)
