"""epoll with the object each descriptor stands for, for the probe loop.

`selectors` keeps that object in a namedtuple and rebuilds the tuple (`_replace`) every
time the object changes, and the probe loop changes it twice per check (the kept
connection passes from its chain to the probe and back): with hundreds of agents that
was a tenth of an idle supervisor's probing CPU. Here the objects sit in a dict, and
epoll is asked to change only when the events do.
"""

from __future__ import annotations

import select
from typing import Generic, TypeVar

READ = select.EPOLLIN
WRITE = select.EPOLLOUT

T = TypeVar("T")


class Poller(Generic[T]):
    """Descriptors registered with the events they wait for and the object that stands
    for them; `poll` returns the objects whose descriptors are ready (or in error, which
    the owner finds out by reading or writing)."""

    __slots__ = ("_epoll", "_events", "_owners")

    def __init__(self) -> None:
        self._epoll = select.epoll()
        self._events: dict[int, int] = {}
        self._owners: dict[int, T] = {}

    def register(self, fd: int, events: int, owner: T) -> None:
        self._epoll.register(fd, events)
        self._events[fd] = events
        self._owners[fd] = owner

    def modify(self, fd: int, events: int, owner: T) -> None:
        """A system call only when `events` change."""
        if self._events[fd] != events:
            self._epoll.modify(fd, events)
            self._events[fd] = events
        self._owners[fd] = owner

    def unregister(self, fd: int) -> None:
        """Forget `fd` (KeyError when it is not registered); call it before closing."""
        del self._events[fd]
        del self._owners[fd]
        self._epoll.unregister(fd)

    def poll(self, timeout: float | None) -> list[T]:
        """The owners of ready descriptors; `timeout` None waits for one."""
        owners = self._owners
        return [owners[fd] for fd, _ in self._epoll.poll(-1 if timeout is None else timeout)
                if fd in owners]

    def close(self) -> None:
        self._epoll.close()
