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
from collections.abc import MutableMapping
from datetime import UTC, datetime
from typing import Any, TextIO

import structlog

LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
          "error": logging.ERROR}
FIRST_KEYS = ("timestamp", "level", "event", "job", "agent")


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
    """The timestamp format of structlog's `TimeStamper(fmt="iso", utc=True)`."""
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


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
    ) -> None:
        out = stream if stream is not None else sys.stdout
        renderer: Any
        if fmt == "json":
            renderer = structlog.processors.JSONRenderer(serializer=_json_dumps)
        else:
            renderer = structlog.dev.ConsoleRenderer(colors=out.isatty(), sort_keys=False)
        self.min_level = LEVELS[level]
        self._job = job
        self._writer = LineWriter(out)
        # agent.output is by far the most frequent event; in JSON it skips the processor
        # chain and renders the same fields, in the same order, in one step.
        self._fast_output = fmt == "json"
        self._logger = structlog.wrap_logger(
            self._writer,
            processors=[
                structlog.processors.add_log_level,
                structlog.processors.TimeStamper(fmt="iso", utc=True),
                _ordered,
                renderer,
            ],
            wrapper_class=structlog.make_filtering_bound_logger(self.min_level),
            cache_logger_on_first_use=True,
        ).bind(job=job)

    def emit(self, event: str, level: str = "info", **fields: Any) -> None:
        getattr(self._logger, level)(event, **fields)

    def output(
        self, agent: str, stream: str, line: str, part: int | None = None,
        continued: bool = False,
    ) -> None:
        """One line an agent wrote; a JSON object goes under `payload` as fields.

        A piece of an over-long line keeps its text under `line` with `part` and
        `continued`, so a consumer can join the pieces.
        """
        if part is not None:
            self._output(agent, stream, "line", line, {"part": part, "continued": continued})
            return
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

    def _output(
        self, agent: str, stream: str, key: str, value: Any,
        extra: dict[str, Any] | None = None,
    ) -> None:
        if not self._fast_output:
            self._logger.info(
                "agent.output", agent=agent, stream=stream, **{key: value}, **(extra or {})
            )
            return
        if self.min_level > logging.INFO:
            return
        event = {
            "timestamp": _utc_now(),
            "level": "info",
            "event": "agent.output",
            "job": self._job,
            "agent": agent,
            "stream": stream,
            key: value,
        }
        if extra:
            event.update(extra)
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
