"""A weather spoke: GET /weather?city=X answers a forecast made up from the city's name."""

from __future__ import annotations

import zlib

from example_agents.common import JSON, Agent, HttpError, Request, Settings, log, main

CONDITIONS = ["sunny", "cloudy", "rain", "windy", "fog", "snow"]


def forecast(city: str) -> dict[str, JSON]:
    """The same city always gets the same forecast."""
    seed = zlib.crc32(city.strip().lower().encode())
    return {
        "city": city,
        "condition": CONDITIONS[seed % len(CONDITIONS)],
        "temperature_c": seed % 35 - 5,
        "wind_kmh": seed // 7 % 60,
    }


class WeatherAgent(Agent):
    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.route("GET", "/weather", self.weather)

    def weather(self, request: Request) -> JSON:
        city = request.query.get("city", "").strip()
        if not city:
            raise HttpError(400, "give a city: /weather?city=Paris")
        answer = forecast(city)
        log("forecast", city=city, condition=answer["condition"])
        return {**answer, "answered_by": self.id}


if __name__ == "__main__":
    main(WeatherAgent)
