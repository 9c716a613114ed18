"""One timer thread for the whole supervisor.

Actors must not sleep, and a thread per timer would cost a thread per agent. A single
thread keeps a heap of due times and runs each callback (which only sends a message) when
it falls due. Cancelled entries are skipped lazily.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable


class TimerHandle:
    __slots__ = ("cancelled",)

    def __init__(self) -> None:
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class TimerService:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._heap: list[tuple[float, int, TimerHandle, Callable[[], None]]] = []
        self._counter = itertools.count()
        self._condition = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="agentsup-timers", daemon=True)
        self._thread.start()

    def call_later(self, delay: float, callback: Callable[[], None]) -> TimerHandle:
        handle = TimerHandle()
        with self._condition:
            due = self._clock() + max(delay, 0.0)
            heapq.heappush(self._heap, (due, next(self._counter), handle, callback))
            if self._heap[0][2] is handle:
                self._condition.notify()
        return handle

    def close(self) -> None:
        with self._condition:
            self._closed = True
            self._condition.notify()
        self._thread.join(timeout=2.0)

    def _run(self) -> None:
        while True:
            with self._condition:
                while not self._closed:
                    if not self._heap:
                        self._condition.wait()
                        continue
                    wait = self._heap[0][0] - self._clock()
                    if wait <= 0:
                        break
                    self._condition.wait(wait)
                if self._closed:
                    return
                _, _, handle, callback = heapq.heappop(self._heap)
            if not handle.cancelled:
                try:
                    callback()
                except Exception:  # a timer callback only sends; never let it kill timers
                    import logging

                    logging.getLogger(__name__).exception("timer callback failed")
