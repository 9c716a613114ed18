"""Events out: structlog set-up, and the only place that writes to stdout.

Every event is one line: a JSON object (`timestamp`, `level`, `event`, `job`, then the
agent and the event's own fields), or a readable console line. Writes from any thread
are serialised by one lock so lines never interleave. stdlib logging (pykka logs there)
is routed through the same renderer as `log` events.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from collections.abc import Callable, MutableMapping, Sequence
from datetime import UTC, datetime
from typing import Any, TextIO

import structlog

LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
          "error": logging.ERROR}
FIRST_KEYS = ("timestamp", "level", "event", "job", "agent", "elapsed")
TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
"""Whole seconds: jq's `fromdateiso8601` reads nothing finer; `elapsed` keeps the precision."""

OutputSink = Callable[[str, str, str], None]
"""Receives every output line (agent, stream, line), whatever the log level."""


class LineWriter:
    """A structlog logger that writes whole lines to one stream under a lock."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    def msg(self, message: str) -> None:
        with self._lock:
            try:
                self._stream.write(message + "\n")
                self._stream.flush()
            except (BrokenPipeError, ValueError):
                pass  # the reader went away; supervising goes on

    debug = info = warning = warn = error = critical = exception = fatal = log = msg


def _ordered(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    ordered = {key: event_dict.pop(key) for key in FIRST_KEYS if key in event_dict}
    ordered.update(event_dict)
    return ordered


def _utc_now() -> str:
    """The same format as the `TimeStamper` of the processor chain."""
    return datetime.now(UTC).strftime(TIMESTAMP_FORMAT)


def _json_dumps(value: Any, **_: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str, separators=(",", ":"))


class EventLog:
    """Emits the job's events; safe to call from any thread."""

    def __init__(
        self,
        job: str,
        *,
        fmt: str = "json",
        level: str = "info",
        stream: TextIO | None = None,
        agents: Sequence[str] = (),
    ) -> None:
        out = stream if stream is not None else sys.stdout
        renderer: Any
        writer: Any
        if fmt == "json":
            renderer = structlog.processors.JSONRenderer(serializer=_json_dumps)
            writer = LineWriter(out)
        else:
            from agentsup.console import console_output

            renderer, writer = console_output(fmt, out, job, agents, LEVELS[level])
            writer = writer or LineWriter(out)
        self.min_level = LEVELS[level]
        self._job = job
        self._writer = writer
        self.started = time.monotonic()
        self.started_at = datetime.now(UTC)
        self._stream_levels: dict[tuple[str, str], str] = {}
        self._sinks: list[OutputSink] = []
        # agent.output is by far the most frequent event; in JSON it skips the processor
        # chain and renders the same fields, in the same order, in one step.
        self._fast_output = fmt == "json"
        self._logger = structlog.wrap_logger(
            self._writer,
            processors=[
                structlog.processors.add_log_level,
                structlog.processors.TimeStamper(fmt=TIMESTAMP_FORMAT, utc=True),
                self._add_elapsed,
                _ordered,
                renderer,
            ],
            # The live view's table needs every event, whatever is printed; it filters
            # the lines it prints itself.
            wrapper_class=structlog.make_filtering_bound_logger(
                logging.DEBUG if fmt == "live" else self.min_level
            ),
            cache_logger_on_first_use=True,
        ).bind(job=job)

    def _add_elapsed(
        self, _: Any, __: str, event_dict: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        event_dict["elapsed"] = self.elapsed()
        return event_dict

    def started_text(self) -> str:
        """When the job started, UTC to the microsecond: with an event's `elapsed`, the
        event's exact time (its `timestamp` has whole seconds)."""
        return self.started_at.isoformat().replace("+00:00", "Z")

    def elapsed(self) -> float:
        """Seconds since the job started (since this log was made), to 0.1 ms."""
        return round(time.monotonic() - self.started, 4)

    def emit(self, event: str, level: str = "info", **fields: Any) -> None:
        getattr(self._logger, level)(event, **fields)

    def set_output_levels(self, agent: str, levels: dict[str, str]) -> None:
        """The event level of each stream of one agent's output (`deployment.output`)."""
        for stream, level in levels.items():
            self._stream_levels[(agent, stream)] = level

    def add_output_sink(self, sink: OutputSink) -> None:
        """Also hand every output line to `sink` (log files); set up before the job runs."""
        self._sinks.append(sink)

    def close(self) -> None:
        """Let the writer finish (the live view puts the cursor back); events after this
        still go out, as plain lines."""
        close = getattr(self._writer, "close", None)
        if close is not None:
            close()

    def output(self, agent: str, stream: str, line: str) -> None:
        """One line an agent wrote; a JSON object goes under `payload` as fields."""
        for sink in self._sinks:
            sink(agent, stream, line)
        stripped = line.strip()
        if stripped.startswith("{") and stripped.endswith("}"):
            try:
                payload = json.loads(stripped)
            except ValueError:
                payload = None
            if isinstance(payload, dict):
                self._output(agent, stream, "payload", payload)
                return
        self._output(agent, stream, "line", line)

    def _output(self, agent: str, stream: str, key: str, value: Any) -> None:
        level = self._stream_levels.get((agent, stream), "info")
        if not self._fast_output:
            getattr(self._logger, level)("agent.output", agent=agent, stream=stream,
                                         **{key: value})
            return
        if self.min_level > LEVELS[level]:
            return
        event = {
            "timestamp": _utc_now(),
            "level": level,
            "event": "agent.output",
            "job": self._job,
            "agent": agent,
            "elapsed": self.elapsed(),
            "stream": stream,
            key: value,
        }
        self._writer.msg(_json_dumps(event))


class _BridgeHandler(logging.Handler):
    def __init__(self, events: EventLog) -> None:
        super().__init__()
        self._events = events

    def emit(self, record: logging.LogRecord) -> None:
        try:
            fields: dict[str, Any] = {"logger": record.name, "message": record.getMessage()}
            if record.exc_info:
                fields["exception"] = logging.Formatter().formatException(record.exc_info)
            level = record.levelname.lower()
            self._events.emit("log", level if level in LEVELS else "error", **fields)
        except Exception:
            self.handleError(record)


def route_stdlib_logging(events: EventLog) -> None:
    """Send stdlib log records (pykka's among them) through the event renderer."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.addHandler(_BridgeHandler(events))
    root.setLevel(max(events.min_level, logging.INFO) if events.min_level > logging.DEBUG
                  else logging.DEBUG)
