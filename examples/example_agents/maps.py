"""A maps spoke: GET /route?city=X answers a route made up from the city's name."""

from __future__ import annotations

import zlib

from example_agents.common import JSON, Agent, HttpError, Request, Settings, log, main

ROADS = ["A1", "B12", "Ring Road", "Harbour Street", "Old Mill Lane", "M4"]


def route(city: str, origin: str) -> dict[str, JSON]:
    """The same (origin, city) always gets the same route."""
    seed = zlib.crc32(f"{origin}->{city}".strip().lower().encode())
    first = seed % len(ROADS)
    return {
        "from": origin,
        "to": city,
        "distance_km": seed % 900 + 10,
        "via": [ROADS[first], ROADS[(first + 1 + seed // 11 % (len(ROADS) - 1)) % len(ROADS)]],
    }


class MapsAgent(Agent):
    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.origin = settings.option("origin", "Home")
        self.route("GET", "/route", self.find_route)

    def find_route(self, request: Request) -> JSON:
        city = request.query.get("city", "").strip()
        if not city:
            raise HttpError(400, "give a city: /route?city=Paris")
        answer = route(city, request.query.get("from", self.origin))
        log("route", city=city, distance_km=answer["distance_km"])
        return {**answer, "answered_by": self.id}


if __name__ == "__main__":
    main(MapsAgent)
