"""The live view: what `agentsup start` shows on a terminal.

A table pinned at the bottom of the terminal holds every agent, grouped by stage (state,
pid, host, URL, uptime, restarts, last health result), under a progress line while
stages start ("stage 2/4 starting: 3 of 8 agents ready"). Agents' output and agentsup's
sentences scroll above it, as the console format writes them.

`jobview.JobView` is the state behind the table. `LiveView` is the writer `EventLog`
uses for `--log-format live`: it feeds the view and prints lines through rich's `Live`,
whose own thread redraws the table a few times a second (uptimes move).

Printing above a live table redraws the table, so lines are not printed one by one:
writers queue them and a flusher thread prints whatever has queued up in one go, at
most `FLUSH_INTERVAL` later. A flood of output then costs one redraw per batch, not
per line; past `MAX_PENDING` queued lines the oldest are dropped with a note saying how
many (the JSON stream and the log files keep every line).

The line over the table and the table leave at least a third of the terminal's height
(`OUTPUT_SHARE`) to the lines above them, so agents' output stays in sight; a job with
more agents than the rest holds shows those that need attention and a line counting the
others (`jobview.table`). The last table, drawn when the job is over, has every agent.

While the view draws, the terminal does not echo what is typed (`terminalecho`): the
echo lands at the end of the table, and an Enter there left stale copies of the table
on the screen. It echoes again once the view stops drawing, for a Ctrl-Z too.

Ctrl-Z (SIGTSTP) stops agentsup as it would stop any program, but first the view stops
drawing, leaves its table where it is and shows the cursor again; once agentsup is
continued (`fg`) it draws anew below whatever the shell printed meanwhile. Agents run
in their own sessions and go on; supervising them pauses while agentsup is stopped.
Continued in the background instead (`bg`), or started there (`agentsup start ... &`),
agentsup runs and the view does not draw: the terminal belongs to the shell then. It
draws again once continued in the foreground (`fg` sends SIGCONT, which the view
handles); lines that came meanwhile wait, as they do while agentsup is stopped. A job
that ends while in the background ends without drawing: under `stty tostop` a write
to the terminal from there would stop agentsup instead.

Locks: rich's refresh thread holds its lock and then asks the view for a snapshot; a
writer takes the view's lock only to apply an event and lets go before printing, so
the two never wait on each other. The SIGTSTP handler runs on the main thread between
two bytecodes, maybe while that thread holds one of the view's locks (it writes events
too). It takes none of them: it hands the stop to the view's `live-view-stops` thread
through a `queue.SimpleQueue` (made to be used from a signal handler) and waits, for
`SUSPEND_WAIT` at most, on an event only it waits on; a Ctrl-Z that comes while the
main thread applies an event is acted on once it has (`msg`). While the job is being
closed the handler stops agentsup at once: the main thread draws the last table then.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import queue
import signal
import threading
import time
from collections.abc import Mapping, MutableMapping
from types import FrameType
from typing import Any, TextIO

import msgspec
from rich.console import (
    Console,
    ConsoleDimensions,
    ConsoleOptions,
    Group,
    RenderableType,
    RenderResult,
)
from rich.live import Live
from rich.segment import Segment
from rich.spinner import Spinner
from rich.style import Style
from rich.text import Text

from agentsup.eventtext import LEVEL_STYLES, QUIET, Palette, printable, to_line
from agentsup.jobview import JobView, progress_text, table
from agentsup.terminalecho import TypedEcho

FLUSH_INTERVAL = 0.05
MAX_PENDING = 5000
OUTPUT_SHARE = 3
"""While the job runs, the line over the table and the table leave at least a third of
the terminal's height to the lines above them."""
SUSPEND_WAIT = 1.0
"""Seconds Ctrl-Z waits for the view to stop drawing before agentsup stops anyway (the
terminal may not be taking output)."""
LEVEL_NUMBERS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
                 "error": logging.ERROR}


@functools.lru_cache(maxsize=64)
def _style(name: str) -> Style:
    return Style.parse(name) if name else Style.null()


class _Row(msgspec.Struct, frozen=True):
    time: str
    who: str
    who_style: Style
    text: str
    text_style: Style


ECHO_ROOM = 3
"""Columns the table leaves free at the right: the last one (see `__rich__`) and two for
the terminal's echo of a signal key (`^C`), where its echo could not be switched off
(`terminalecho`)."""


class _TerminalConsole(Console):
    """A console as large as the terminal it draws on is now.

    rich takes `COLUMNS` and `LINES` from the environment over the terminal's own size,
    for good: where they are exported (`eval $(resize)` does, and so do some shells'
    start-up files) the view stayed at that width when the window was made narrower,
    every line of the table wrapped, each redraw went that many lines short and left a
    copy of the table behind. The kernel's window size for the view's own descriptor
    is asked on every draw instead, so the view follows the window; the environment
    counts only where that size cannot be had."""

    @property
    def size(self) -> ConsoleDimensions:
        try:
            columns, lines = os.get_terminal_size(self.file.fileno())
        except (OSError, ValueError, AttributeError):
            return super().size
        return ConsoleDimensions(columns or 80, lines or 25)

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        self._width, self._height = new_size


def _fileno(stream: TextIO) -> int:
    """The terminal's descriptor; -1 (which every terminal call refuses) where the
    stream has none."""
    try:
        return stream.fileno()
    except (OSError, ValueError, AttributeError):
        return -1


class _Rows:
    """Lines as rich segments, ready-made: printing Text objects one by one costs five
    times as much, and a chatty agent would feel it."""

    def __init__(self, rows: list[_Row]) -> None:
        self.rows = rows

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        dim = _style("dim")
        newline = Segment.line()
        for row in self.rows:
            if row.time:
                yield Segment(row.time + " ", dim)
            yield Segment(row.who, row.who_style)
            yield Segment(" | ")
            yield Segment(row.text, row.text_style)
            yield newline


class LiveView:
    """The writer (and last processor) of `--log-format live`."""

    def __init__(self, stream: TextIO, job: str, min_level: int = logging.INFO) -> None:
        self.min_level = min_level
        self.console = _TerminalConsole(file=stream, force_terminal=True, soft_wrap=True,
                                        highlight=False)
        self.view = JobView(job)
        self.palette = Palette()
        self._state_lock = threading.Lock()
        self._print_lock = threading.Lock()
        self._pending: list[_Row] = []
        self._dropped = 0
        self._queued = threading.Condition()
        self._closing = False
        self._final = False
        """Set for the last table, which has every agent."""
        self._suspended = not self._in_foreground()
        """Stopped by Ctrl-Z, or in the background: nothing is drawn until agentsup is
        continued in the foreground."""
        self._live: Live | None = self._new_live(start=not self._suspended)
        self._echo = TypedEcho(_fileno(stream))
        if not self._suspended:
            self._echo.silence()
        self._flusher = threading.Thread(target=self._flush_loop, name="live-view",
                                         daemon=True)
        self._flusher.start()
        self._stops: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self._stop_drawn = threading.Event()
        self._stopping = False
        self._main = threading.main_thread().ident
        self._main_busy = False
        self._stop_deferred = False
        self._trapped = False
        self._previous_tstp: Any = signal.SIG_DFL
        self._previous_cont: Any = signal.SIG_DFL
        self._stopper = threading.Thread(target=self._stop_loop, name="live-view-stops",
                                         daemon=True)
        self._stopper.start()
        self._trap_terminal_stop()

    def _new_live(self, *, start: bool = True) -> Live:
        live = Live(self, console=self.console, refresh_per_second=4, transient=False,
                    redirect_stdout=False, redirect_stderr=False)
        if start:
            live.start()
        return live

    def _in_foreground(self) -> bool:
        """Whether agentsup's process group has the terminal; True where that cannot be
        told (not a terminal, or none at all)."""
        try:
            return os.tcgetpgrp(self.console.file.fileno()) == os.getpgrp()
        except (OSError, ValueError, AttributeError):
            return True

    # structlog: the last processor hands the event on, whole, as the writer's argument
    def render(self, _: Any, __: str, event_dict: MutableMapping[str, Any]) -> Any:
        return (dict(event_dict),), {}

    def msg(self, event: dict[str, Any]) -> None:
        if threading.get_ident() != self._main:
            self._apply(event)
            return
        # The main thread writes events too; a Ctrl-Z meanwhile waits until it holds
        # none of the view's locks (`_on_terminal_stop`).
        self._main_busy = True
        try:
            self._apply(event)
        finally:
            self._main_busy = False
            if self._stop_deferred:
                self._stop_deferred = False
                self._on_terminal_stop(signal.SIGTSTP, None)

    def _apply(self, event: dict[str, Any]) -> None:
        with self._state_lock:
            self.view.apply(event)
            self.palette.learn(event)
            if event.get("event") in QUIET or LEVEL_NUMBERS.get(
                str(event.get("level")), logging.INFO
            ) < self.min_level:
                return
            text = self._line(event)
        with self._queued:
            self._pending.append(text)
            if len(self._pending) > MAX_PENDING:
                del self._pending[0]
                self._dropped += 1
            self._queued.notify()

    debug = info = warning = warn = error = critical = exception = fatal = log = msg

    def _line(self, event: Mapping[str, Any]) -> _Row:
        """One `<time> <who> | <text>` line; called under the state lock."""
        line = to_line(event)
        return _Row(line.time, line.who.ljust(self.palette.width),
                    _style(self.palette.colour(line.who)),
                    line.text,  # `to_line` made it printable
                    _style(LEVEL_STYLES.get(line.level, "")))

    def _take(self) -> tuple[list[_Row], int]:
        with self._queued:
            lines, self._pending = self._pending, []
            dropped, self._dropped = self._dropped, 0
        return lines, dropped

    def _print(self, lines: list[_Row], dropped: int) -> None:
        if dropped:
            lines.insert(0, _Row("", "...", _style("yellow"),
                                 f"{dropped} lines not shown here (too many too fast)",
                                 _style("yellow")))
        if lines:
            with contextlib.suppress(OSError, ValueError):  # the terminal went away
                self.console.print(_Rows(lines))

    def _flush_loop(self) -> None:
        while True:
            with self._queued:
                while (not self._pending or self._suspended) and not self._closing:
                    self._queued.wait()
                if self._closing:
                    return
            time.sleep(FLUSH_INTERVAL)  # let a burst gather into one batch
            with self._print_lock:
                if self._live is None:
                    return
                if not self._suspended:  # else the lines wait for `fg`
                    self._print(*self._take())

    # Ctrl-Z
    def _trap_terminal_stop(self) -> None:
        """Handle SIGTSTP while the view draws: only on the main thread (where handlers
        go), and not when it was ignored (agentsup started with it ignored must not be
        stopped by it)."""
        if threading.current_thread() is not threading.main_thread():
            return
        previous = signal.getsignal(signal.SIGTSTP)
        if previous == signal.SIG_IGN:
            return
        if previous is not None:  # None: set outside Python; SIG_DFL puts it back
            self._previous_tstp = previous
        signal.signal(signal.SIGTSTP, self._on_terminal_stop)
        self._previous_cont = signal.signal(signal.SIGCONT, self._on_continue)
        self._trapped = True

    def _untrap_terminal_stop(self) -> None:
        if not self._trapped or threading.current_thread() is not threading.main_thread():
            return
        with contextlib.suppress(TypeError, ValueError):
            signal.signal(signal.SIGTSTP, self._previous_tstp)
        with contextlib.suppress(TypeError, ValueError):
            signal.signal(signal.SIGCONT, self._previous_cont)
        self._trapped = False

    def _on_continue(self, _signum: int, _frame: FrameType | None) -> None:
        """SIGCONT, on the main thread: continued, by `fg` or `bg`; the view's thread
        draws again if agentsup now has the terminal. Takes no lock (see the notes)."""
        self._stops.put("continue")

    def _on_terminal_stop(self, _signum: int, _frame: FrameType | None) -> None:
        """SIGTSTP, on the main thread: have the view's thread stop drawing and show the
        cursor, stop as the default action would, and once continued have it draw
        again. Takes no lock the main thread may hold (see the module's notes)."""
        if self._stopping:  # a second Ctrl-Z while this one is being handled
            return
        if self._main_busy:  # the main thread may hold a lock the view's thread needs
            self._stop_deferred = True
            return
        self._stopping = True
        try:
            if not self._closing:  # else the main thread draws the last table itself
                self._stop_drawn.clear()
                self._stops.put("stop")
                self._stop_drawn.wait(SUSPEND_WAIT)
            signal.signal(signal.SIGTSTP, signal.SIG_DFL)
            try:
                os.kill(os.getpid(), signal.SIGTSTP)  # stops here until SIGCONT
            finally:
                signal.signal(signal.SIGTSTP, self._on_terminal_stop)
            # Also the SIGCONT handler's work, but in an orphaned process group the
            # kernel discards the stop, and no SIGCONT comes.
            self._stops.put("continue")
        finally:
            self._stopping = False

    def _stop_loop(self) -> None:
        while True:
            match self._stops.get():
                case "stop":
                    self._suspend()
                    self._stop_drawn.set()
                case "continue":
                    with self._print_lock:
                        if self._in_foreground():  # else continued by `bg`
                            self._resume()
                            if not self._suspended and self._live is not None:
                                # Stopped by SIGSTOP, which the view never sees: the
                                # shell put its own modes back meanwhile.
                                self._echo.silence()
                case None:
                    return

    def _suspend(self) -> None:
        """Stop drawing: the table stays as last drawn, the cursor below it, shown."""
        with self._print_lock:
            if self._live is None or self._suspended:
                return
            self._suspended = True
            with contextlib.suppress(OSError, ValueError):
                self._live.stop()
            self._echo.restore()

    def _resume(self) -> None:
        """Draw again, from where the cursor is: below what was printed meanwhile, which
        the table of before, left where it was, must not be drawn over. Called with the
        print lock held."""
        if self._live is None or not self._suspended:
            return
        with contextlib.suppress(OSError, ValueError):
            self._live = self._new_live()
        self._suspended = False
        self._echo.silence()
        with self._queued:
            self._queued.notify()

    def __rich__(self) -> RenderableType:
        with self._state_lock:
            snap = self.view.snapshot()
            palette = self.palette
            # Lines stay off the terminal's last column: one that wraps, or fills it
            # and leaves the cursor waiting to wrap, throws off rich's count of the
            # lines to redraw, and a stale copy of the line stays on the screen. Two
            # more columns are left for the terminal's own echo of Ctrl-C, Ctrl-Z or
            # Ctrl-\ (`^C`) where its echo could not be switched off (`terminalecho`):
            # written where the cursor is, at the end of the table's last line, past
            # the last column it wrapped that line, and the line over the table stayed
            # behind when the stop's lines came.
            width = self.console.width - ECHO_ROOM
            height = self.console.height
            lines = None if self._final else max(  # less the line over the table
                1, height - height // OUTPUT_SHARE - 1)
            grid = table(snap, palette, width, lines)
        spinning = snap.phase in ("starting", "stopping")
        headline = Text(printable(progress_text(snap, width - 2 if spinning else width)),
                        style="bold")
        if spinning:
            return Group(Spinner("dots", text=headline), grid)
        return Group(headline, grid)

    def close(self) -> None:
        """Draw the table one last time and leave it on the screen, cursor below it;
        in the background, leave the terminal alone.

        The shell has the terminal then, and under `stty tostop` the kernel stops a
        background process that writes to it (SIGTTOU): a last table drawn there would
        leave agentsup stopped, at the end of its stop, until someone brought it to the
        foreground. The lines that waited for `fg` are not shown either; the job's log
        files (`deployment.logs`), where it has them, keep every agent's output."""
        with self._queued:
            self._closing = True
            self._queued.notify()
        self._stops.put(None)
        with self._print_lock:
            if self._in_foreground():
                self._resume()  # closed before a Ctrl-Z's `fg` was seen: draw again
            live, self._live = self._live, None
            if live is not None and not self._suspended:
                self._print(*self._take())
                self._final = True
                with contextlib.suppress(OSError, ValueError):
                    live.stop()
            if self._in_foreground():
                self._echo.restore()
        self._untrap_terminal_stop()
