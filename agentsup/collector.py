"""The cyclic garbage collector, held off while a command starts and skipped at its exit.

Start-up allocates a great many objects that live as long as the process: modules,
classes, pydantic's schemas and validators, the job's models, the actors. CPython's
collector runs every few hundred allocations and walks them again and again, and at
exit the interpreter walks everything once more before it ends. On the README example,
`validate` spent 24 ms in collections while it ran and about 50 ms in the one at exit,
of some 400 ms; almost nothing they found was garbage.

So `paused` turns the collector off for a command, and on the way out moves what is left
to the permanent generation (`gc.freeze`), which no collection walks, the one at exit
included. `start` ends the pause early with `resume` once the job is loaded and its
backends are made, before they check hosts and images (which can take minutes): what
exists by then is frozen, and collection goes on as usual for the run, so that a long
run's cycles are still freed. Freezing keeps what little start-up garbage there is (553
unreachable objects of 61,000 for a 32-agent job, of 145,000 for 200 agents); finding
it would cost a full collection, 42-56 ms.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

_paused = False


@contextmanager
def paused() -> Iterator[None]:
    """No cyclic collection inside, unless `resume` ends the pause early.

    On the way out the collector is left on or off as it was found; the objects that
    are alive then stay frozen, which is meant for a process that is about to exit
    (`agentsup`'s own `main`).
    """
    global _paused
    was_enabled = gc.isenabled()
    gc.disable()
    _paused = True
    try:
        yield
    finally:
        _paused = False
        gc.freeze()
        if was_enabled:
            gc.enable()
        else:
            gc.disable()


def resume() -> None:
    """Start-up is over: freeze what it built and collect as usual from here on."""
    global _paused
    if _paused:
        _paused = False
        gc.freeze()
        gc.enable()
