"""An actor that stands in for another one (an agent, the supervisor) and keeps what it
is told, so a test can read the messages in the order they came."""

from __future__ import annotations

import queue
from typing import Any

import pykka


class Recorder(pykka.ThreadingActor):
    def __init__(self, told: queue.Queue[Any]) -> None:
        super().__init__()
        self.told = told

    def on_receive(self, message: Any) -> Any:
        self.told.put(message)
        return None
