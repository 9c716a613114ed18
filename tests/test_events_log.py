"""EventLog: one JSON object per line (or a readable console line) per event."""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from agentsup.logs import EventLog
from agentsup.runners.lines import LineBatch


def lines(stream: io.StringIO) -> list[str]:
    text = stream.getvalue()
    assert text == "" or text.endswith("\n")
    return text.splitlines()


def records(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in lines(stream)]


@pytest.fixture()
def out() -> io.StringIO:
    return io.StringIO()


def test_json_event_has_timestamp_level_event_job_first(out: io.StringIO) -> None:
    log = EventLog("demo", fmt="json", stream=out)
    before = datetime.now(UTC)
    log.emit("agent.ready", agent="weather", url="http://localhost:8102", seconds=0.031)
    (record,) = records(out)
    assert list(record)[:5] == ["timestamp", "level", "event", "job", "agent"]
    assert record["level"] == "info"
    assert record["event"] == "agent.ready"
    assert record["job"] == "demo"
    assert record["agent"] == "weather"
    assert record["url"] == "http://localhost:8102"
    assert record["seconds"] == 0.031

    stamp = datetime.fromisoformat(record["timestamp"])
    assert stamp.utcoffset() == timedelta(0)
    assert record["timestamp"].endswith(("Z", "+00:00"))
    assert abs(stamp - before) < timedelta(seconds=30)


def test_job_events_without_an_agent(out: io.StringIO) -> None:
    log = EventLog("demo", stream=out)
    log.emit("job.stopped", exit_code=0)
    (record,) = records(out)
    assert list(record)[:4] == ["timestamp", "level", "event", "job"]
    assert "agent" not in record
    assert record["exit_code"] == 0


def test_levels_are_written(out: io.StringIO) -> None:
    log = EventLog("demo", stream=out, level="debug")
    for level in ("debug", "info", "warning", "error"):
        log.emit("x", level)
    assert [r["level"] for r in records(out)] == ["debug", "info", "warning", "error"]


def test_level_filtering(out: io.StringIO) -> None:
    log = EventLog("demo", stream=out, level="warning")
    log.emit("agent.started", "info", agent="a")
    log.emit("agent.debugging", "debug", agent="a")
    log.emit("agent.unhealthy", "warning", agent="a")
    log.emit("job.failed", "error", reason="boom")
    assert [r["event"] for r in records(out)] == ["agent.unhealthy", "job.failed"]


def test_output_of_a_json_object_line_goes_under_payload(out: io.StringIO) -> None:
    log = EventLog("demo", stream=out)
    log.output("weather", "stdout", '{"msg": "served", "status": 200, "nested": {"a": [1, 2]}}')
    (record,) = records(out)
    assert record["event"] == "agent.output"
    assert record["agent"] == "weather"
    assert record["stream"] == "stdout"
    assert record["payload"] == {"msg": "served", "status": 200, "nested": {"a": [1, 2]}}
    assert "line" not in record


@pytest.mark.parametrize(
    "line",
    [
        "plain text",
        "{not json}",
        "[1, 2, 3]",
        '"a string"',
        "42",
        "",
        "{",
        "ünïcode ✓",
    ],
)
def test_output_of_other_lines_goes_under_line(out: io.StringIO, line: str) -> None:
    log = EventLog("demo", stream=out)
    log.output("maps", "stderr", line)
    (record,) = records(out)
    assert record["event"] == "agent.output"
    assert record["stream"] == "stderr"
    assert record["line"] == line
    assert "payload" not in record


def test_payload_keys_do_not_clash_with_event_keys(out: io.StringIO) -> None:
    log = EventLog("demo", stream=out)
    log.output("a", "stdout", '{"event": "mine", "level": "trace", "job": "other"}')
    (record,) = records(out)
    assert record["event"] == "agent.output"
    assert record["level"] == "info"
    assert record["job"] == "demo"
    assert record["payload"] == {"event": "mine", "level": "trace", "job": "other"}


def test_each_event_is_one_line_even_with_newlines_in_values(out: io.StringIO) -> None:
    log = EventLog("demo", stream=out)
    log.emit("agent.failed", "error", agent="a", reason="first\nsecond")
    log.output("a", "stdout", "tab\there")
    assert len(lines(out)) == 2
    assert records(out)[0]["reason"] == "first\nsecond"


def test_values_that_are_not_json_are_rendered_as_text(out: io.StringIO) -> None:
    log = EventLog("demo", stream=out)
    log.emit("odd", path=object.__new__(type("Thing", (), {"__str__": lambda s: "thing"})))
    assert records(out)[0]["path"] == "thing"


def test_console_format_is_a_readable_non_json_line(out: io.StringIO) -> None:
    log = EventLog("demo", fmt="console", stream=out)
    log.emit("agent.ready", agent="weather", url="http://localhost:8102", seconds=0.0812)
    log.output("weather", "stdout", "hello")
    log.output("weather", "stdout", '{"msg": "listening", "port": 8102}')
    first, second, third = lines(out)
    with pytest.raises(ValueError):
        json.loads(first)
    assert re.fullmatch(r"\d\d:\d\d:\d\d agentsup \| weather ready in 0.08 s at "
                        r"http://localhost:8102", first)
    assert second[8:] == " weather  | hello"
    assert third[8:] == ' weather  | {"msg":"listening","port":8102}'
    assert "\x1b[" not in first + second  # no colour codes when the stream is not a terminal


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_console_lines_on_a_terminal_carry_no_escape_codes_of_the_agents() -> None:
    """Only the colours agentsup chose: an agent's title, alternate screen, hidden
    cursor, reset and carriage return are shown as U+FFFD."""
    out = Tty()
    log = EventLog("demo", fmt="console", stream=out, agents=["a"])
    log.output("a", "stdout", "x\x1b]0;TITLE\x07\x1b[?1049h\x1b[?25l\x1bc\rover\u009b2J")
    log.output("a", "stdout", '{"k": "\\u001b[2J\\u009d0;T\\u009c"}')
    log.emit("agent.unhealthy", "warning", agent="a", failures=3, error="\x1b[2Jbad")
    first, second, third = lines(out)
    assert "\x1b" not in re.sub(r"\x1b\[[0-9;]*m", "", out.getvalue())  # colours only
    assert first.endswith("\x1b[0m | x\ufffd]0;TITLE\ufffd\ufffd[?1049h\ufffd[?25l"
                          "\ufffdc\ufffdover\ufffd2J")
    # compact JSON writes C0 controls as \\u escapes itself, which a terminal shows
    assert second.endswith('| {"k":"\\u001b[2J\ufffd0;T\ufffd"}')
    assert "\ufffd[2Jbad" in third


@pytest.mark.parametrize(("environ", "colour"), [
    ({"TERM": "xterm-256color"}, True),
    ({"TERM": "xterm-256color", "NO_COLOR": "1"}, False),
    ({"TERM": "xterm-256color", "NO_COLOR": ""}, True),
    ({"TERM": "dumb"}, False),
    ({}, True),
])
def test_console_colour_honours_no_color_and_dumb_terminals(
    monkeypatch: pytest.MonkeyPatch, environ: dict[str, str], colour: bool,
) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("TERM", raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    out = Tty()
    EventLog("demo", fmt="console", stream=out, agents=["a"]).output("a", "stdout", "hi")
    assert ("\x1b[" in out.getvalue()) is colour


def test_console_format_filters_levels_too(out: io.StringIO) -> None:
    log = EventLog("demo", fmt="console", stream=out, level="error")
    log.emit("agent.ready", agent="a")
    log.output("a", "stdout", "hello")
    log.emit("job.failed", "error", reason="boom")
    (line,) = lines(out)
    assert line.endswith("agentsup | job failed: boom")


def test_two_logs_do_not_share_job_or_stream() -> None:
    first, second = io.StringIO(), io.StringIO()
    EventLog("one", stream=first).emit("job.loaded")
    EventLog("two", stream=second, level="error").emit("job.loaded")
    assert [r["job"] for r in records(first)] == ["one"]
    assert records(second) == []


def test_stdlib_logging_goes_through_the_same_renderer(out: io.StringIO) -> None:
    import logging

    from agentsup.logs import route_stdlib_logging

    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        route_stdlib_logging(EventLog("j", stream=out))
        logging.getLogger("pykka").error("Unhandled exception in %s", "SomeActor")
        logging.getLogger("pykka").debug("too chatty for info")  # below the level
        try:
            raise ValueError("boom")
        except ValueError:
            logging.getLogger("agentsup.x").exception("it broke")
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
    logged = records(out)
    assert [r["event"] for r in logged] == ["log", "log"]
    assert logged[0]["level"] == "error" and logged[0]["logger"] == "pykka"
    assert logged[0]["message"] == "Unhandled exception in SomeActor"
    assert logged[0]["job"] == "j"
    assert "ValueError: boom" in logged[1]["exception"]


def test_held_job_stopped_goes_after_clean_up_events_and_nothing_follows(
    out: io.StringIO,
) -> None:
    log = EventLog("demo", stream=out, hold_last=True)
    log.emit("job.stopped", exit_code=1)
    log.emit("job.stopped", exit_code=0, killed=True)  # a late second one changes nothing
    log.emit("network.removed", network="agentsup-demo")
    log.release_last()
    log.emit("container.removed", container="late")
    log.output("a", "stdout", "late line")
    assert [(r["event"], r.get("exit_code")) for r in records(out)] == [
        ("network.removed", None),
        ("job.stopped", 1),
    ]


def test_every_event_has_elapsed_seconds_since_the_log_began(out: io.StringIO) -> None:
    log = EventLog("demo", stream=out)
    log.emit("job.loaded")
    log.output("a", "stdout", "hello")
    log.emit("job.ready", seconds=0.5)
    elapsed = [record["elapsed"] for record in records(out)]
    assert all(isinstance(value, float) and value >= 0 for value in elapsed)
    assert elapsed == sorted(elapsed)


def test_timestamps_have_whole_seconds_for_jq(out: io.StringIO) -> None:
    log = EventLog("demo", stream=out)
    log.emit("job.loaded")
    log.output("a", "stdout", "hello")
    for record in records(out):
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", record["timestamp"])


def test_each_stream_has_its_own_level(out: io.StringIO) -> None:
    log = EventLog("demo", stream=out, level="warning")
    log.set_output_levels("a", {"stdout": "info", "stderr": "warning"})
    log.output("a", "stdout", "ordinary")
    log.output("a", "stderr", "Traceback (most recent call last):")
    (record,) = records(out)
    assert (record["level"], record["stream"], record["line"]) == (
        "warning", "stderr", "Traceback (most recent call last):"
    )


def test_output_sinks_get_every_line_whatever_the_level(out: io.StringIO) -> None:
    seen: list[tuple[str, str, list[str]]] = []
    log = EventLog("demo", stream=out, level="error")
    log.add_output_sink(lambda agent, stream, batch: seen.append((agent, stream, batch.texts)))
    log.output("a", "stdout", "one")
    log.output("a", "stderr", '{"k": 1}')
    log.output_lines("a", "stdout", LineBatch(["two", "three"]))
    assert records(out) == []
    assert seen == [("a", "stdout", ["one"]), ("a", "stderr", ['{"k": 1}']),
                    ("a", "stdout", ["two", "three"])]


@pytest.mark.parametrize(
    ("event", "sentence"),
    [
        ({"event": "agent.exited", "agent": "maps", "signal": "SIGKILL"},
         "maps was killed by SIGKILL"),
        ({"event": "agent.exited", "agent": "maps", "exit_code": 3}, "maps exited with code 3"),
        ({"event": "agent.exited", "agent": "m", "reason": "connection lost"},
         "m is gone: connection lost"),
        ({"event": "agent.restarting", "agent": "maps", "attempt": 2, "delay": 1.0},
         "maps restarting in 1.00 s (attempt 2)"),
        ({"event": "job.stopping", "reason": "kill", "signal": "SIGINT"},
         "killing every agent now (SIGINT)"),
        ({"event": "job.stopping", "reason": "failure"}, "stopping after a failure"),
        ({"event": "job.ready", "agents": 1, "stages": 1, "seconds": 12.345},
         "job ready: 1 agent in 1 stage, 12.3 s"),
        ({"event": "stage.started", "stage": 2, "agents": ["a", "b"]},
         "stage 2: starting a, b"),
        ({"event": "ssh.connected", "host": "root@h:22", "address": "10.0.0.1"},
         "ssh.connected host=root@h:22 address=10.0.0.1"),
    ],
)
def test_lifecycle_events_read_as_sentences(event: dict[str, Any], sentence: str) -> None:
    from agentsup.eventtext import describe

    assert describe(event) == sentence


def _strict(text: str) -> dict[str, Any]:
    def refuse(name: str) -> Any:
        raise AssertionError(f"{name} in an event line: {text}")

    record: dict[str, Any] = json.loads(text, parse_constant=refuse)
    return record


@pytest.mark.parametrize(
    ("line", "payload"),
    [
        # Beyond 64 bits: the fast renderer refuses it, the standard one keeps every digit.
        ('{"id": 123456789012345678901234567890}', {"id": 123456789012345678901234567890}),
        # `null` is a value of its own, not a stand-in for a number that is not finite.
        ('{"left": null, "n": 1.5}', {"left": None, "n": 1.5}),
        # Deeper than the fast renderer nests.
        ('{"a":' * 300 + "1" + "}" * 300, None),
        ('{"text": "ünïcode ✓ \\u00e9"}', {"text": "ünïcode ✓ é"}),
    ],
)
def test_payloads_are_kept_exactly_whichever_renderer_writes_them(
    out: io.StringIO, line: str, payload: Any
) -> None:
    log = EventLog("demo", stream=out)
    log.output("calc", "stdout", line)
    (text,) = lines(out)
    record = _strict(text)
    expected = json.loads(line) if payload is None else payload
    assert record["payload"] == expected
    assert list(record)[:6] == ["timestamp", "level", "event", "job", "agent", "elapsed"]


@pytest.mark.parametrize("line", ['{"big": 1e999}', '{"neg": -1e999, "ok": 1}'])
def test_a_number_json_cannot_carry_keeps_the_line_as_text(out: io.StringIO, line: str) -> None:
    log = EventLog("demo", stream=out)
    log.output("calc", "stdout", line)
    (text,) = lines(out)
    record = _strict(text)  # no Infinity, and not silently `null`
    assert record["line"] == line
    assert "payload" not in record
