"""How `agentsup start` ends its actors: each is asked to stop once, then waited for.

Asking an actor a second time while it finishes the first request could lose the
second one (pykka checks that the actor is alive, the actor drains its inbox for the
last time, and only then is the request queued), and the wait for its answer stalled
shutdown for 30 s before ending it with a traceback. Under load that happened about
once in a dozen starts interrupted by SIGTERM (`test_start.py` has the end-to-end
case). These tests run real pykka actors.
"""

from __future__ import annotations

import threading

import pykka
import pytest

from agentsup import app


class Quiet(pykka.ThreadingActor):
    def __init__(self, stops: list[str], name: str) -> None:
        super().__init__()
        self.stops = stops
        self.name = name

    def on_stop(self) -> None:
        self.stops.append(self.name)


class Stuck(pykka.ThreadingActor):
    def __init__(self, release: threading.Event) -> None:
        super().__init__()
        self.release = release

    def on_stop(self) -> None:
        self.release.wait(timeout=30)


def test_every_actor_is_stopped_once_and_waited_for() -> None:
    stops: list[str] = []
    refs = [Quiet.start(stops, f"a{i}") for i in range(100)]
    refs[10].stop()  # already dead: answers at once
    stops.clear()
    app._stop_actors(refs)
    assert not any(ref.is_alive() for ref in refs)
    assert sorted(stops) == sorted(f"a{i}" for i in range(100) if i != 10)


def test_an_actor_that_does_not_stop_is_reported_not_raised(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    release = threading.Event()
    stuck = Stuck.start(release)
    stops: list[str] = []
    quiet = Quiet.start(stops, "quiet")
    monkeypatch.setattr(app, "STOP_WAIT", 0.2)
    try:
        app._stop_actors([stuck, quiet])
        assert "did not stop within" in capsys.readouterr().err
        assert stops == ["quiet"]
    finally:
        release.set()
        pykka.ActorRegistry.stop_all()
