"""The hub: GET /ask?city=X asks the weather and maps spokes and combines their answers.

The spokes are found through the connections agentsup passes (AGENTSUP_CONNECTIONS, or the
URLs in CONNECTED_AGENTS): each peer's /health says which agent type it is.
"""

from __future__ import annotations

import threading
from urllib.parse import quote

from example_agents.common import (
    JSON,
    Agent,
    HttpError,
    PeerError,
    Request,
    Settings,
    call,
    join,
    log,
    main,
)

SERVICES = {"weather": ("WeatherAgent", "/weather"), "route": ("MapsAgent", "/route")}


class ControllerAgent(Agent):
    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self._lock = threading.Lock()
        self._types: dict[str, str] = {}  # peer URL -> its agent type, once known
        self.route("GET", "/ask", self.ask)

    def _peer_for(self, agent_type: str) -> str:
        """The URL of a connected agent of `agent_type`, asking peers' /health as needed."""
        for url in self.settings.peers().values():
            with self._lock:
                known = self._types.get(url)
            if known is None:
                try:
                    known = str(call(join(url, "/health"), timeout=2.0).get("type", ""))
                except (PeerError, AttributeError):
                    continue
                with self._lock:
                    self._types[url] = known
            if known == agent_type:
                return url
        raise HttpError(503, f"no connected agent of type {agent_type}")

    def ask(self, request: Request) -> JSON:
        city = request.query.get("city", "").strip()
        if not city:
            raise HttpError(400, "give a city: /ask?city=Paris")
        answer: dict[str, JSON] = {"city": city}
        for key, (agent_type, path) in SERVICES.items():
            url = self._peer_for(agent_type)
            answer[key] = call(join(url, f"{path}?city={quote(city)}"))
        weather, route = answer["weather"], answer["route"]
        answer["summary"] = (
            f"{city}: {weather['condition']}, {weather['temperature_c']} °C; "
            f"{route['distance_km']} km via {' and '.join(route['via'])}"
        )
        answer["answered_by"] = self.id
        log("answered", city=city)
        return answer


if __name__ == "__main__":
    main(ControllerAgent)
