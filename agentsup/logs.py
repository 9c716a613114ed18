"""Events out: the only place that writes to stdout.

Every event is one line: a JSON object (`timestamp`, `level`, `event`, `job`, `agent`,
`elapsed`, then the event's own fields), or a readable console line, or a line above the
live view's table. JSON and console lines from any thread are queued in order under one
lock, so they never interleave, and written by one writer thread that is the only thing
a blocked stdout can stall (`linewriter.LineWriter`); the live view has its own flusher
(`liveview.LiveView`). stdlib logging (pykka logs there) is routed through the same
renderer as `log` events.

Events are built and rendered here directly rather than by a structlog processor chain:
importing structlog (which imports rich) cost about 0.15 s of every `agentsup start`
with JSON output. The console and live formats still use their structlog-shaped
renderers, imported only for those formats.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import sys
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from json.encoder import encode_basestring
from typing import Any, TextIO, TypeVar

import orjson

from agentsup.linewriter import EXIT_WRITE_WAIT, LineWriter, last_event
from agentsup.runners.lines import LineBatch

LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
          "error": logging.ERROR}
FIRST_KEYS = ("timestamp", "level", "event", "job", "agent", "elapsed")
LAST_EVENT = "job.stopped"
TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
"""Whole seconds: jq's `fromdateiso8601` reads nothing finer; `elapsed` keeps the precision."""

_T = TypeVar("_T")

OutputSink = Callable[[str, str, LineBatch], None]
"""Receives every output line (agent, stream, batch), a read's lines at a time, whatever
the log level; the batch says which lines are pieces of an over-long one."""


class _NeverRaised(Exception):
    """Stands for structlog's DropEvent where no renderer can raise it (JSON)."""


_stamp: tuple[int, str] = (-1, "")


def _utc_now() -> str:
    """The same format as the `TimeStamper` of the processor chain.

    The text changes once a second, so it is made once a second: formatting a date for
    every line of a fast agent cost a tenth of the output path.
    """
    global _stamp
    second = int(time.time())
    if _stamp[0] != second:
        _stamp = (second, time.strftime(TIMESTAMP_FORMAT, time.gmtime(second)))
    return _stamp[1]


def _fast_json(event: dict[str, Any]) -> bytes:
    """One event as a JSON line's bytes: orjson where it writes what the standard
    library would, the standard library otherwise.

    orjson renders several times faster, but writes a non-finite float as `null`
    where strict JSON has no value for it, and refuses integers beyond 64 bits and very
    deep nesting. An event holding `null` anywhere is therefore rendered again by the
    standard library, which raises ValueError for a non-finite float as before; the
    values reaching here come from JSON text or are plain strings and numbers, so
    orjson's own handling of other types (dates, enums) never applies.
    """
    try:
        data = orjson.dumps(event)
    except orjson.JSONEncodeError:
        return _strict_dumps(event).encode("utf-8", errors="replace")
    if b"null" in data:
        return _strict_dumps(event).encode("utf-8", errors="replace")
    return data


def _json_dumps(value: Any, **_: Any) -> str:
    """Strict JSON: a non-finite float (NaN, Infinity) is written as its text."""
    try:
        return _strict_dumps(value)
    except ValueError:
        return _strict_dumps(_finite(value))


def _strict_dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str, separators=(",", ":"),
                      allow_nan=False)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_payload(line: str) -> dict[str, Any] | None:
    """The JSON object a line holds, or None when it cannot be carried as strict JSON.

    `NaN` and `Infinity` are not JSON, and nesting deeper than the parser can follow
    raises RecursionError; either way the line is kept as text instead.
    """
    stripped = line.strip()
    if not (stripped.startswith("{") and stripped.endswith("}")):
        return None
    try:
        payload = json.loads(stripped, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        return None
    return payload if isinstance(payload, dict) else None


class EventLog:
    """Emits the job's events; safe to call from any thread.

    With `hold_last`, `job.stopped` is kept back until `release_last`: clean-up that
    follows the supervisor's decision (removing containers and networks) still reports
    its events, and `job.stopped` stays the last line all the same.
    """

    def __init__(
        self,
        job: str,
        *,
        fmt: str = "json",
        level: str = "info",
        stream: TextIO | None = None,
        hold_last: bool = False,
        agents: Sequence[str] = (),
    ) -> None:
        out = stream if stream is not None else sys.stdout
        self.min_level = LEVELS[level]
        self._job = job
        self._fmt = fmt
        self.started = time.monotonic()
        self.started_at = datetime.now(UTC)
        self._stream_levels: dict[tuple[str, str], str] = {}
        self._sinks: list[OutputSink] = []
        self._hold_lock = threading.Lock()
        self._holding = hold_last
        self._held: tuple[str, dict[str, Any]] | None = None
        renderer: Any
        writer: Any
        self._drop: type[BaseException] = _NeverRaised
        if fmt == "json":
            renderer = _json_renderer
            writer = LineWriter(out, dropped_line=self._dropped_line)
        else:
            from structlog import DropEvent

            from agentsup.console import console_output

            self._drop = DropEvent
            renderer, live = console_output(fmt, out, job, agents, self.min_level)
            writer = live if live is not None else LineWriter(
                out, dropped_line=self._dropped_line
            )
        self._renderer = renderer
        self._writer = writer
        # The live view's table needs every event, whatever is printed; it filters
        # the lines it prints itself.
        self._filter_level = logging.DEBUG if fmt == "live" else self.min_level

    def _log(self, event: str, level: str, fields: dict[str, Any]) -> None:
        """Build, render and queue one event: the fields in the order of FIRST_KEYS,
        then the event's own, as structlog's chain with `bind(job=...)` made them."""
        if LEVELS.get(level, logging.CRITICAL) < self._filter_level:
            return
        given: dict[str, Any] = {"job": self._job, **fields}
        given["event"] = event
        given["level"] = level
        given["timestamp"] = _utc_now()
        given["elapsed"] = self.elapsed()
        ordered = {key: given.pop(key) for key in FIRST_KEYS if key in given}
        ordered.update(given)
        try:
            rendered = self._renderer(None, level, ordered)
        except self._drop:
            return
        last_event.seal = event == LAST_EVENT
        if isinstance(rendered, tuple):
            args, kwargs = rendered
            self._writer.msg(*args, **kwargs)
        else:
            self._writer.msg(rendered)

    def started_text(self) -> str:
        """When the job started, UTC to the microsecond: with an event's `elapsed`, the
        event's exact time (its `timestamp` has whole seconds)."""
        return self.started_at.isoformat().replace("+00:00", "Z")

    def elapsed(self) -> float:
        """Seconds since the job started (since this log was made), to 0.1 ms."""
        return round(time.monotonic() - self.started, 4)

    def emit(self, event: str, level: str = "info", **fields: Any) -> None:
        if event == LAST_EVENT:
            with self._hold_lock:
                if self._holding:
                    if self._held is None:  # the first one decides
                        self._held = (level, fields)
                    return
        self._log(event, level, fields)
        if event == LAST_EVENT and isinstance(self._writer, LineWriter):
            self._writer.seal()  # also when the level filter left it out

    def release_last(self) -> None:
        """Write the `job.stopped` held back (if any); nothing is written after it."""
        with self._hold_lock:
            self._holding = False
            held, self._held = self._held, None
        if held is not None:
            level, fields = held
            self.emit(LAST_EVENT, level, **fields)

    def set_output_levels(self, agent: str, levels: dict[str, str]) -> None:
        """The event level of each stream of one agent's output (`deployment.output`)."""
        for stream, level in levels.items():
            self._stream_levels[(agent, stream)] = level

    @property
    def flow(self) -> LineWriter | None:
        """The `OutputFlow` of agent output (`runners.base`): the writer of stdout, which
        holds local agents back while stdout is read slowly; None for the live view."""
        return self._writer if isinstance(self._writer, LineWriter) else None

    def add_output_sink(self, sink: OutputSink) -> None:
        """Also hand every output line to `sink` (log files); set up before the job runs."""
        self._sinks.append(sink)

    def close(self, timeout: float = EXIT_WRITE_WAIT) -> bool:
        """Give stdout up to `timeout` to take what is queued; False if it did not.

        The live view draws its table one last time and puts the cursor below it."""
        if isinstance(self._writer, LineWriter):
            return self._writer.close(timeout)
        self._writer.close()
        return True

    def output(
        self, agent: str, stream: str, line: str, part: int | None = None,
        continued: bool = False,
    ) -> None:
        """One line an agent wrote (see `output_lines`)."""
        self.output_lines(agent, stream, LineBatch.of(line, part, continued))

    def output_lines(self, agent: str, stream: str, batch: LineBatch) -> None:
        """The lines of one read of an agent's stream; a JSON object goes under `payload`
        as fields.

        A line whose JSON cannot be carried as strict JSON stays under `line`: no agent
        line is lost and every event line is strict JSON. A piece of an over-long line
        keeps its text under `line` with `part` and `continued`, so a consumer can join
        the pieces. The lines of one read share a time stamp, and in JSON they reach the
        writer as one blob (`_json_lines`).
        """
        texts = batch.texts
        if not texts:
            return
        for sink in self._sinks:
            sink(agent, stream, batch)
        level = self._stream_levels.get((agent, stream), "info")
        if self._fmt == "json":
            if self.min_level <= LEVELS[level]:
                self._writer.output_lines(
                    self._json_lines(agent, stream, level, batch), len(texts)
                )
            return
        for line in batch:
            if line.part is not None:
                self._output(agent, stream, level, "line", line.text,
                             {"part": line.part, "continued": line.continued})
                continue
            _payload_or_line(line.text, functools.partial(self._output, agent, stream, level))

    def _json_lines(
        self, agent: str, stream: str, level: str, batch: LineBatch
    ) -> list[bytes]:
        """The JSON event lines of a batch, byte for byte what `_output` renders for each,
        as pieces of one blob (the writer hands them to one `writev`).

        The fields before `line` are the same for every line of the batch, so they are
        rendered once, and a run of plain lines is that head joined with each line's
        JSON string. Lines that may hold a JSON object (they contain `{`) and pieces of
        over-long lines are rendered one by one, as events of their own.
        """
        texts, pieces = batch.texts, batch.pieces
        base = {"timestamp": _utc_now(), "level": level, "event": "agent.output",
                "job": self._job, "agent": agent, "elapsed": self.elapsed(),
                "stream": stream}
        head = _fast_json({**base, "line": ""})[:-3]  # without `""}`
        out: list[bytes] = []
        joined = "\n".join(texts)
        if not pieces and "{" not in joined:
            _plain_lines(head, texts, base, joined, out)
            return out
        start = 0
        for index, text in enumerate(texts):
            piece = pieces.get(index)
            if piece is None and "{" not in text:
                continue
            if start < index:
                run = texts[start:index]
                _plain_lines(head, run, base, "\n".join(run), out)
            if piece is not None:
                out.append(_fast_json({**base, "line": text, "part": piece[0],
                                       "continued": piece[1]}) + b"\n")
            else:
                out.append(_text_or_payload(base, text) + b"\n")
            start = index + 1
        if start < len(texts):
            run = texts[start:]
            _plain_lines(head, run, base, "\n".join(run), out)
        return out

    def _output(
        self, agent: str, stream: str, level: str, key: str, value: Any,
        extra: dict[str, Any] | None = None,
    ) -> None:
        """One output event in the console or live format."""
        if self._fmt == "live":
            # The live view queues and drops its own lines; its table needs the event.
            self._log("agent.output", level,
                      {"agent": agent, "stream": stream, key: value, **(extra or {})})
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
        if extra:
            event.update(extra)
        # The most frequent event skips the processor chain and renders the same fields,
        # in the same order, in one step; it may be dropped while stdout is not read.
        self._writer.output(self._render(event))

    def _render(self, event: dict[str, Any]) -> str | bytes:
        if self._fmt == "json":
            return _fast_json(event)
        return str(self._renderer(None, str(event["level"]), dict(event)))

    def _dropped_line(self, count: int) -> str | bytes:
        event = {
            "timestamp": _utc_now(),
            "level": "warning",
            "event": "events.dropped",
            "job": self._job,
            "elapsed": self.elapsed(),
            "count": count,
            "reason": "stdout was not being read",
        }
        return self._render(event)


_SPECIAL = bytes(range(0x20)) + b'"\\'
"""Bytes a JSON string cannot hold as they are (UTF-8 puts none inside a character)."""


def _plain_lines(
    head: bytes, texts: list[str], base: dict[str, Any], joined: str, out: list[bytes]
) -> None:
    """Append the output events of plain lines to `out` (`joined` is `texts` joined by
    newlines): each is `head` + the line as a JSON string + `}`.

    When no line needs an escape (the only special bytes are the newlines that join
    them), the JSON string of a line is the line in quotes, so the whole run is one
    replace over its bytes. Otherwise the standard library's C string encoder quotes
    each line: it writes what orjson writes, and its output holds no raw newline, so the
    newlines that join the quoted lines still mark where each ends. Text that cannot be
    UTF-8 (a lone surrogate) is rendered line by line through `_fast_json`, which has
    the standard library's fallback.
    """
    try:
        data = joined.encode("utf-8")
        if len(data) - len(data.translate(None, _SPECIAL)) == len(texts) - 1:
            out += (head + b'"', data.replace(b"\n", b'"}\n' + head + b'"'), b'"}\n')
            return
        data = "\n".join(map(encode_basestring, texts)).encode("utf-8")
        out += (head, data.replace(b"\n", b"}\n" + head), b"}\n")
    except UnicodeEncodeError:
        out += (_fast_json({**base, "line": text}) + b"\n" for text in texts)


def _text_or_payload(base: dict[str, Any], text: str) -> bytes:
    """One line as a JSON event (see `_payload_or_line`)."""
    return _payload_or_line(text, lambda key, value: _fast_json({**base, key: value}))


def _payload_or_line(text: str, render: Callable[[str, Any], _T]) -> _T:
    """Render one line with its JSON object under `payload` when it is one the renderer
    can carry (strict JSON, not too deep), else with the text under `line`."""
    payload = parse_payload(text)
    if payload is not None:
        try:
            return render("payload", payload)
        except (ValueError, RecursionError):
            pass
    return render("line", text)


def _json_renderer(_: Any, __: str, event: dict[str, Any]) -> str:
    return _json_dumps(event)


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
