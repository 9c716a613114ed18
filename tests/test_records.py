"""agentsup's records (messages, settings, state, results) are `msgspec.Struct` classes.

A frozen dataclass compiles its generated methods when its module is imported (about
0.9 ms a class on Python 3.11); a Struct class is made in C. `start` imports some 75 of
them before its first spawn (docs/performance.md, "Records"). These tests keep it that
way, and keep the guarantees the dataclasses gave: a message cannot change once sent,
and a probe's result compares by its verdict.
"""

from __future__ import annotations

import inspect
import re
import socket
from pathlib import Path

import msgspec
import pytest

from agentsup import messages
from agentsup.messages import commands, control, events
from agentsup.probes.request import ProbeResult

PACKAGE = Path(__file__).resolve().parent.parent / "agentsup"
DATACLASS_USE = re.compile(r"^\s*(@dataclass|from dataclasses import|import dataclasses)", re.M)


def test_no_module_of_agentsup_declares_a_dataclass() -> None:
    using = sorted(
        str(path.relative_to(PACKAGE.parent))
        for path in PACKAGE.rglob("*.py")
        if DATACLASS_USE.search(path.read_text(encoding="utf-8"))
    )
    assert using == [], f"declare records as msgspec.Struct instead of dataclasses: {using}"


def _records(module: object) -> list[type[msgspec.Struct]]:
    return [
        value for _, value in inspect.getmembers(module, inspect.isclass)
        if issubclass(value, msgspec.Struct) and value.__module__ == module.__name__  # type: ignore[attr-defined]
    ]


@pytest.mark.parametrize("module", [commands, events, control], ids=lambda m: m.__name__)
def test_every_message_is_frozen(module: object) -> None:
    records = _records(module)
    assert records, f"no message classes found in {module}"
    thawed = [cls.__name__ for cls in records if not cls.__struct_config__.frozen]
    assert thawed == []


def test_a_sent_message_cannot_be_changed() -> None:
    started = messages.AgentStarted("a", 1, 4242, "localhost")
    with pytest.raises(AttributeError):
        started.pid = 1  # type: ignore[misc]
    assert started == messages.AgentStarted("a", 1, 4242, "localhost")
    assert hash(started) == hash(messages.AgentStarted("a", 1, 4242, "localhost"))
    assert started != messages.AgentStarted("a", 2, 4242, "localhost")


def test_a_probe_result_compares_by_its_verdict_alone() -> None:
    answered = ProbeResult(True, peer=(socket.AF_INET, "127.0.0.1", 8000), name="planner")
    assert answered == ProbeResult(True)
    assert hash(answered) == hash(ProbeResult(True))
    assert answered != ProbeResult(False)
    assert ProbeResult(False, "HTTP 500") != ProbeResult(False, "HTTP 503")
    assert answered.peer == (socket.AF_INET, "127.0.0.1", 8000)
    assert answered.name == "planner"
