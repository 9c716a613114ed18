"""One thread that runs every network health probe of a job, without blocking on any.

A health check is a connect, one small request and one small answer. Doing each on a
pool thread, woken by a timer thread, costs several thread wake-ups per check, and with
hundreds of agents checked every few seconds those wake-ups are most of the supervisor's
idle CPU. Here a single selector loop keeps the due times in a heap and drives every
probe's socket without blocking, so an idle check costs one wake-up of this thread and
the message that carries the result to the agent's actor.

A probe tries every address its host name has, in the resolver's order, and moves on to
the next when a connect is refused or takes more than its share of the timeout (as
`socket.create_connection` does); the address that answered is tried first next time.
Names are looked up on a helper thread (`addresses`), never here. TLS is driven through
its handshake by the same loop; HTTP answers are read by `probes.http` (with h11 for the
unusual ones).

A repeating probe (liveness) keeps its passes to itself and reschedules itself, so an
idle agent's checks never wake its actor; an HTTP one to a local agent also keeps its
connection between runs (`_Chain`). A polling probe (readiness) does the converse: it
keeps its failures to itself, trying again on the readiness schedule (`Polling`) until
one passes or the start deadline comes, so a booting agent's refused connects, one every
10 ms, never wake its actor; `flush` hands over the last failure's reason.
"""

from __future__ import annotations

import contextlib
import errno
import heapq
import itertools
import logging
import math
import os
import resource
import socket
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, cast

import msgspec

from agentsup.probes.addresses import Address, NameCache
from agentsup.probes.http import Answer, Exchange, HttpError, card_name, judge_status
from agentsup.probes.listeners import ListeningPorts
from agentsup.probes.poller import READ, WRITE, Poller
from agentsup.probes.polling import Polling
from agentsup.probes.request import (
    A2A_PATHS,
    Done,
    Kind,
    ProbeRequest,
    ProbeResult,
    probe_request,
    tls_context,
)

if TYPE_CHECKING:
    import ssl

__all__ = ["A2A_PATHS", "Done", "Kind", "ProbeHandle", "ProbeLoop", "ProbeRequest",
           "ProbeResult", "probe_request", "tls_context"]

logger = logging.getLogger(__name__)

ALIGN_GRID = 0.05
"""Probes scheduled at least `ALIGN_FROM` seconds ahead start on multiples of this."""
ALIGN_FROM = 1.0
CHAIN_SLOTS = 1
"""A repeating probe whose interval is at least `ALIGN_FROM` runs on multiples of its
interval divided by this (see `_Chain`)."""
MIN_ATTEMPT = 0.25
"""Seconds a connect to one address gets at least before the next address is tried."""
FRESH_EVERY = 10
"""A repeating HTTP probe of a local agent keeps its connection open between runs when
the agent allows it, and opens a new one every this many runs (see `_Chain`)."""
PARK_FOR = 120.0
"""Seconds the connection on which a local agent passed readiness is held for its first
liveness check (`ProbeLoop._park`) before it is closed unused."""
PARK_SWEEP = 10.0
"""Seconds between looks for held connections that have waited too long."""
TRY_ANYWAY = 1.0
"""A gated polling probe connects on its readiness schedule even while its port has no
listener (so the failure it reports is a real one), but not more often than this, and
its first attempt not before this (or half its start timeout): an agent just launched
is not listening yet. Each refused connect costs the loop a socket and a few system
calls; at 0.25 s, 200 booting agents made 800 of them a second, on the two cores their
boot needs."""
LISTEN_FRESH = 0.005
"""Seconds a look at the kernel's table of listening ports serves the gated probes."""
GATE_GRID = 0.01
"""Gated polling probes look at the table on multiples of this, together, from the
launch to the start deadline."""
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})


_STREAM = socket.SOCK_STREAM | getattr(socket, "SOCK_NONBLOCK", 0)
"""One system call less per probe where the socket can be made non-blocking at once."""


class ProbeHandle:
    """Cancels a scheduled probe; a probe already under way still answers (unless it
    polls: a polling probe's failure after the cancel is not passed on)."""

    __slots__ = ("cancelled", "last_error", "try_at")

    def __init__(self) -> None:
        self.cancelled = False
        self.last_error = ""
        """A polling probe's last failure, kept back (read and written on the loop's
        thread only)."""
        self.try_at = -math.inf
        """When a gated polling probe connects next, whether or not its port has a
        listener by then (the loop's thread only)."""

    def cancel(self) -> None:
        self.cancelled = True


class _Chain:
    """A repeating probe (`ProbeLoop.schedule(repeat=True)`) between its runs.

    Its runs are due at a fixed rate, one interval apart, on multiples of the interval
    (`CHAIN_SLOTS` per interval), so the liveness checks of every agent with the same
    interval fall due together and run in one wake-up of the loop, their answers read in
    a few more. In a virtual machine a wake-up costs more than the checks it runs: with
    checks spread over the 50 ms grid of one-off probes, 200 agents checked every 5 s
    cost 1.2-1.5 % of a core, on this grid half that (docs/performance.md). The first run
    comes up to one interval late; an agent's checks are still one interval apart.

    A new loopback connection costs the supervisor more CPU than all else in a check
    (connect, the peer's half of the handshake, close: about 230 us), so a repeating
    HTTP probe of an agent on this machine sends its next request on the connection of
    the last one, when the agent kept it open. Every `FRESH_EVERY`-th run connects anew,
    so an agent that answers on its open connections but no longer accepts new ones
    fails a check within that many runs; the failure ends the repetition, and the checks
    after it (not repeating) all connect anew.
    """

    __slots__ = ("address", "due", "interval", "kept", "runs", "step")

    def __init__(self, interval: float, now: float) -> None:
        self.interval = interval
        self.step = interval / CHAIN_SLOTS if interval >= ALIGN_FROM else 0.0
        self.due = _on_grid(now + interval, self.step)
        """When the current run was due: the next is due one interval later."""
        self.kept: socket.socket | None = None
        """The open connection, registered with the poller for reading while idle
        (the agent closing it wakes the loop, which then drops it)."""
        self.address: Address | None = None
        self.runs = 0
        """Runs on the kept connection since it was opened."""

    def next_due(self, now: float) -> float:
        """One interval after the last run was due; intervals already past (a run that
        took longer than one) are skipped, not made up."""
        due = self.due + self.interval
        if due <= now:
            due += (math.floor((now - due) / self.interval) + 1) * self.interval
        if self.step > 0:
            due = round(due / self.step) * self.step  # exactly on the grid, as others are
        self.due = due
        return due


def _loopback(address: Address) -> bool:
    ip = address[1]
    return ip == "::1" or ip.startswith("127.")


_Poll = tuple[Polling, float, bool]
"""A polling probe's schedule, the loop's time when it was asked for, and whether it is
gated (it connects once its port has a listener here, or on its schedule)."""

_Entry = tuple[float, int, ProbeHandle, ProbeRequest, Done, "_Chain | None", "_Poll | None"]


class _Probe(msgspec.Struct, eq=False):
    request: ProbeRequest
    deadline: float
    done: Done
    handle: ProbeHandle
    chain: _Chain | None
    """Set for a repeating probe."""
    poll: _Poll | None = None
    """Set for a polling probe."""
    reused: bool = False
    """Sent on the chain's kept connection; it is retried on a new one when that
    connection turns out closed before any answer came."""
    addresses: list[Address] = msgspec.field(default_factory=list)
    index: int = 0
    path_index: int = 0
    sock: socket.socket | None = None
    state: str = "resolve"
    wake_at: float = 0.0
    events: int = 0
    outgoing: bytes = b""
    exchange: Exchange | None = None
    errors: list[str] = msgspec.field(default_factory=list)

    @property
    def address(self) -> Address:
        return self.addresses[self.index]


def _keeps_connection(request: ProbeRequest) -> bool:
    """Whether a probe's connection may serve a later one: plain HTTP to this machine."""
    return request.kind == "http" and request.tls is None and request.host in LOOPBACK_NAMES


def _on_grid(due: float, step: float) -> float:
    return math.ceil(due / step) * step if step > 0 else due


def _due_time(now: float, delay: float) -> float:
    # Round up to the grid, so that checks which fall due close together run in one
    # wake-up of this thread instead of one each.
    return _on_grid(now + max(delay, 0.0), ALIGN_GRID if delay >= ALIGN_FROM else 0.0)


def _next_tick(now: float) -> float:
    """The first multiple of `GATE_GRID` after `now`: gated probes share their ticks."""
    return (math.floor(now / GATE_GRID) + 1) * GATE_GRID


def _show(address: Address) -> str:
    _, ip, port = address
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def _tls_outcome(exc: OSError) -> int | str | None:
    """What a TLS probe's error means: READ or WRITE when the handshake or a read wants
    the socket to be ready for that first, the reason to fail the probe with for any
    other TLS error, None for an error that is not TLS's.

    `ssl` is imported here and by `request.tls_context`, not at the top: OpenSSL costs
    `start` about 3.5 ms before its first launch, and only a job with `https` health
    checks uses it. A probe with a TLS context got it from `tls_context`, so this
    import finds the module loaded."""
    import ssl

    if isinstance(exc, ssl.SSLWantReadError):
        return READ
    if isinstance(exc, ssl.SSLWantWriteError):
        return WRITE
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS: certificate verify failed: {exc.verify_message}"
    if isinstance(exc, ssl.SSLError):
        return f"TLS: {exc.reason or exc}"
    return None


class ProbeLoop:
    """Schedules and runs probes; `done` callbacks run on the loop's thread."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._poller: Poller[_Probe | _Chain | None] = Poller()
        self._wake_read, self._wake_write = os.pipe()
        os.set_blocking(self._wake_read, False)
        os.set_blocking(self._wake_write, False)
        self._poller.register(self._wake_read, READ, None)
        self._lock = threading.Lock()
        self._due: list[_Entry] = []
        self._flushes: list[tuple[ProbeHandle, Done]] = []
        self._counter = itertools.count()
        self._active: set[_Probe] = set()
        self._resolving: list[_Probe] = []
        self._preferred: dict[tuple[str, int], Address] = {}
        self._names = NameCache(self._wake, clock)
        self._parked: dict[tuple[str, int], tuple[_Chain, float]] = {}
        self._swept_at = -math.inf
        self._listeners = ListeningPorts()
        self._listening: frozenset[int] | None = None
        self._listened_at = -math.inf
        self._gate: list[_Entry] = []
        """Gated polling probes waiting for a listener on their port (`_not_yet`)."""
        self._gate_tick = math.inf
        """When the gate is next looked at: the next multiple of `GATE_GRID`."""
        # Kept connections hold a descriptor per agent: only while descriptors (handed
        # out lowest first) stay in the lower half of the limit, so they never crowd out
        # the pipes and sockets of agents started later.
        limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        self._keep_below = (1 << 20 if limit == resource.RLIM_INFINITY else limit) // 2
        self.connects = 0
        """Connections begun so far (a count for diagnostics and tests)."""
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="agentsup-probes", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ any thread

    def schedule(
        self, delay: float, request: ProbeRequest, done: Done, *, repeat: bool = False,
        polling: Polling | None = None, gated: bool = False,
    ) -> ProbeHandle:
        """Probe after `delay` seconds and pass the result to `done`.

        With `repeat`, a passed probe is not passed on: the same probe runs again `delay`
        seconds after it, until one fails (that result is passed on, and the repeating
        ends) or the handle is cancelled. A liveness check that passes after one that
        passed carries no news, and not sending it saves a message and a wake-up of the
        agent's actor per check.

        With `polling`, the converse: a failed probe is not passed on but runs again
        on the readiness schedule (`Polling.after`), until one passes (passed on at
        once), the start deadline comes (that failure is passed on), or the handle is
        cancelled or flushed (`flush`). With `gated` too (an agent on this machine,
        whose listening socket shows in its table), the loop looks at the kernel's
        table of listening ports every 10 ms (`probes.listeners`), one look for all
        booting agents, and connects as soon as the request's port has a listener,
        however long the agent took; on the schedule it connects no more often than
        `TRY_ANYWAY`. Without the gate the attempts thin out after two seconds, so an
        agent that listens later is found up to an interval late."""
        handle = ProbeHandle()
        with self._lock:
            if self._closed:
                return handle
            now = self._clock()
            chain = _Chain(delay, now) if repeat else None
            due = _due_time(now, delay) if chain is None else chain.due
            # Only names of this machine can be looked up in its table of listeners.
            gated = gated and request.host in LOOPBACK_NAMES
            poll = None if polling is None else (polling, now, gated)
            if polling is not None and gated:
                # Asked for right after the launch, when the agent cannot listen yet:
                # its first attempt waits at the gate too, and connects anyway only
                # after TRY_ANYWAY, or halfway to the deadline (a real reason for it).
                remaining = polling.timeout - polling.elapsed
                handle.try_at = now + min(TRY_ANYWAY, remaining / 2)
            entry = (due, next(self._counter), handle, request, done, chain, poll)
            heapq.heappush(self._due, entry)
            first = self._due[0][2] is handle
        if first:
            self._wake()
        return handle

    def flush(self, handle: ProbeHandle, done: Done) -> None:
        """Cancel a polling probe and pass its last kept-back failure to `done`, on the
        loop's thread (an empty reason when none failed yet). An attempt under way
        finishes; its failure is not passed on, a pass is (as is one passed on before
        the flush), and the flush answers all the same: the agent's logic, timing out
        once it asked, ignores that pass."""
        with self._lock:
            if self._closed:
                return
            self._flushes.append((handle, done))
        self._wake()

    def close(self) -> None:
        with self._lock:
            self._closed = True
        self._wake()
        self._names.close()
        self._thread.join(timeout=2.0)

    def _wake(self) -> None:
        with contextlib.suppress(BlockingIOError, OSError):
            os.write(self._wake_write, b"x")

    # ------------------------------------------------------------------ loop thread

    def _run(self) -> None:
        try:
            while True:
                with self._lock:
                    if self._closed:
                        break
                self._flush()
                self._open_gate()
                self._start_due()
                self._retry_resolving()
                for owner in self._poller.poll(self._wait_time()):
                    if owner is None:
                        with contextlib.suppress(BlockingIOError):
                            os.read(self._wake_read, 4096)
                        continue
                    if isinstance(owner, _Chain):
                        self._drop_kept(owner)  # the agent closed it (or spoke unasked)
                    elif owner in self._active:
                        self._advance(owner)
                self._expire()
        except Exception:  # keep the job informed rather than silently stop probing
            logger.exception("the health probe loop failed")
        finally:
            for probe in [*self._active, *self._resolving]:
                self._finish(probe, ProbeResult(False, "the job is stopping"), report=False)
            with self._lock:
                chains = [chain for *_, chain, _ in self._due if chain is not None]
            chains.extend(holder for holder, _ in self._parked.values())
            for chain in chains:
                self._drop_kept(chain)
            self._poller.close()
            self._listeners.close()
            os.close(self._wake_read)
            os.close(self._wake_write)

    def _flush(self) -> None:
        with self._lock:
            if not self._flushes:
                return
            flushes, self._flushes = self._flushes, []
        for handle, done in flushes:
            handle.cancelled = True
            self._report(done, ProbeResult(False, handle.last_error))

    def _report(self, done: Done, result: ProbeResult) -> None:
        try:
            done(result)
        except Exception:
            logger.exception("a health probe callback failed")

    def _wait_time(self) -> float | None:
        now = self._clock()
        times = [probe.wake_at for probe in self._active]
        times.extend(probe.deadline for probe in self._resolving)
        if self._parked:
            times.append(self._swept_at + PARK_SWEEP)
        if self._gate:
            times.append(self._gate_tick)
        with self._lock:
            if self._due:
                times.append(self._due[0][0])
        if not times:
            return None
        return max(min(times) - now, 0.0)

    def _start_due(self) -> None:
        now = self._clock()
        if self._parked and now >= self._swept_at + PARK_SWEEP:
            self._sweep(now)
        while True:
            with self._lock:
                if not self._due or self._due[0][0] > now:
                    return
                _, _, handle, request, done, chain, poll = heapq.heappop(self._due)
            if handle.cancelled:
                if chain is not None:
                    self._drop_kept(chain)
                continue
            if poll is not None and poll[2] and self._not_yet(handle, request, done, poll, now):
                continue
            deadline = now + request.timeout
            probe = _Probe(request, deadline, done, handle, chain, poll, wake_at=deadline)
            if chain is not None and chain.kept is None and self._parked:
                self._adopt(chain, request)
            if chain is not None and chain.kept is not None:
                if chain.runs < FRESH_EVERY - 1:
                    chain.runs += 1
                    self._reuse(probe, chain)
                    continue
                self._drop_kept(chain)
            self._resolve(probe)

    def _not_yet(
        self, handle: ProbeHandle, request: ProbeRequest, done: Done, poll: _Poll, now: float,
    ) -> bool:
        """Put a gated polling probe at the gate, without connecting, while nothing
        listens on its port here; False when it is to connect now: its port has a
        listener, the table cannot be read, or its next attempt is due anyway."""
        if now >= handle.try_at:
            return False
        ports = self._listening_ports(now)
        if ports is None or request.port in ports:
            return False
        if not self._gate:
            self._gate_tick = _next_tick(now)
        self._gate.append((handle.try_at, next(self._counter), handle, request, done, None, poll))
        return True

    def _open_gate(self) -> None:
        """Once a tick, one look at the table for every probe at the gate: a probe whose
        port has a listener, whose attempt is due anyway, or that was called off leaves
        it for the due list, where `_start_due` takes it at once.

        One pass over a list a tick, where each waiting probe used to go through the
        due heap every tick: 200 booting agents meant 20,000 heap operations a second,
        under the lock `schedule` takes, while those agents' boot needed the CPU."""
        if not self._gate:
            return
        now = self._clock()
        if now < self._gate_tick:
            return
        self._gate_tick = _next_tick(now)
        ports = self._listening_ports(now)
        waiting: list[_Entry] = []
        leaving: list[_Entry] = []
        for entry in self._gate:
            handle, request = entry[2], entry[3]
            if (ports is not None and request.port not in ports and now < handle.try_at
                    and not handle.cancelled):
                waiting.append(entry)
            else:
                leaving.append((now, *entry[1:]))
        self._gate = waiting
        if leaving:
            with self._lock:
                for entry in leaving:
                    heapq.heappush(self._due, entry)

    def _listening_ports(self, now: float) -> frozenset[int] | None:
        if now - self._listened_at >= LISTEN_FRESH:
            self._listening = self._listeners.ports()
            self._listened_at = now
        return self._listening

    def _push(self, entry: _Entry) -> None:
        with self._lock:
            heapq.heappush(self._due, entry)

    def _reuse(self, probe: _Probe, chain: _Chain) -> None:
        """Send the probe's request on the chain's kept connection."""
        sock, address = chain.kept, chain.address
        assert sock is not None and address is not None
        chain.kept = chain.address = None
        probe.addresses = [address]
        probe.sock = sock
        probe.reused = True
        probe.events = READ
        self._poller.modify(sock.fileno(), READ, probe)  # reading already: no system call
        self._active.add(probe)
        try:
            self._send_request(probe)
        except OSError:
            self._connect_again(probe)

    def _connect_again(self, probe: _Probe) -> None:
        """The kept connection was closed by the agent before it answered (an idle
        timeout, say): the same probe on a new connection, within the same deadline."""
        self._close_socket(probe)
        self._active.discard(probe)
        probe.reused = False
        probe.exchange = None
        probe.addresses = []
        probe.index = 0
        probe.wake_at = probe.deadline
        self._resolve(probe)

    def _drop_kept(self, chain: _Chain) -> None:
        sock = chain.kept
        if sock is not None:
            with contextlib.suppress(KeyError):
                self._poller.unregister(sock.fileno())
            sock.close()
        chain.kept = chain.address = None
        chain.runs = 0

    def _resolve(self, probe: _Probe) -> None:
        request = probe.request
        found = self._names.get(request.host, request.port)
        if found is None:
            if probe not in self._resolving:
                self._resolving.append(probe)
            return
        if isinstance(found, str):
            self._finish(probe, ProbeResult(False, found))
            return
        preferred = self._preferred.get((request.host, request.port))
        if preferred in found:
            found.remove(preferred)
            found.insert(0, preferred)
        probe.addresses = found
        self._active.add(probe)
        self._connect_next(probe)

    def _retry_resolving(self) -> None:
        waiting, self._resolving = self._resolving, []
        for probe in waiting:
            self._resolve(probe)

    # ------------------------------------------------------------------ connecting

    def _connect_next(self, probe: _Probe) -> None:
        """Connect to the current address, or move on until one connect is under way."""
        while probe.index < len(probe.addresses):
            family, ip, port = probe.address
            try:
                sock = socket.socket(family, _STREAM)  # non-blocking from the start
            except OSError as exc:
                probe.errors.append(f"{_show(probe.address)}: {exc.strerror or exc}")
                probe.index += 1
                continue
            if _STREAM == socket.SOCK_STREAM:
                sock.setblocking(False)
            code = sock.connect_ex((ip, port))
            self.connects += 1
            if code not in (0, errno.EINPROGRESS, errno.EAGAIN):
                sock.close()
                probe.errors.append(f"{_show(probe.address)}: {os.strerror(code)}")
                probe.index += 1
                continue
            now = self._clock()
            left = len(probe.addresses) - probe.index
            share = max((probe.deadline - now) / left, MIN_ATTEMPT)
            probe.sock = sock
            probe.state = "connect"
            probe.wake_at = min(probe.deadline, now + share)
            probe.events = WRITE
            self._poller.register(sock.fileno(), WRITE, probe)
            return
        self._finish(probe, ProbeResult(False, self._connect_error(probe)))

    def _connect_error(self, probe: _Probe) -> str:
        where = probe.request.where
        if len(probe.errors) == 1:
            reason = probe.errors[0].split(": ", 1)[1]
            return f"cannot connect to {where}: {reason}"
        return f"cannot connect to {where}: {'; '.join(probe.errors)}"

    def _connect_failed(self, probe: _Probe, reason: str) -> None:
        probe.errors.append(f"{_show(probe.address)}: {reason}")
        self._close_socket(probe)
        probe.index += 1
        self._connect_next(probe)

    def _connected(self, probe: _Probe) -> None:
        request = probe.request
        self._preferred[(request.host, request.port)] = probe.address
        probe.wake_at = probe.deadline
        if request.kind == "tcp":
            self._finish(probe, ProbeResult(True, peer=probe.address))
            return
        if request.tls is not None:
            sock = probe.sock
            assert sock is not None
            fd = sock.fileno()
            self._poller.unregister(fd)
            probe.sock = request.tls.wrap_socket(
                sock, server_hostname=request.host, do_handshake_on_connect=False
            )
            self._poller.register(fd, probe.events, probe)  # the same descriptor
            probe.state = "handshake"
            self._handshake(probe)
            return
        self._send_request(probe)

    def _handshake(self, probe: _Probe) -> None:
        sock = cast("ssl.SSLSocket", probe.sock)  # wrapped by `_connected`
        sock.do_handshake()  # SSLWant* are handled by the caller (`_tls_outcome`)
        self._send_request(probe)

    def _send_request(self, probe: _Probe) -> None:
        request = probe.request
        keep = (probe.chain is not None or probe.poll is not None) and _keeps_connection(request)
        probe.exchange = Exchange(request.host, request.port, request.paths[probe.path_index],
                                  keep_alive=keep)
        probe.outgoing = probe.exchange.request()
        probe.state = "send"
        self._send(probe)

    def _send(self, probe: _Probe) -> None:
        sock = probe.sock
        assert sock is not None
        while probe.outgoing:
            sent = sock.send(probe.outgoing)
            probe.outgoing = probe.outgoing[sent:]
        probe.state = "receive"
        self._want(probe, READ)

    def _receive(self, probe: _Probe) -> None:
        sock = probe.sock
        exchange = probe.exchange
        assert sock is not None and exchange is not None
        while True:
            data = sock.recv(65536)
            if not data and probe.reused and exchange.received == 0:
                self._connect_again(probe)
                return
            answer = exchange.feed(data)
            if answer is not None:
                self._answered(probe, answer)
                return
            if not data:
                self._finish(probe, ProbeResult(False, "the connection closed early"))
                return
            if probe.request.tls is None or not cast("ssl.SSLSocket", sock).pending():
                return  # the poller says when more has come

    def _want(self, probe: _Probe, events: int) -> None:
        if probe.sock is not None and probe.events != events:
            probe.events = events
            self._poller.modify(probe.sock.fileno(), events, probe)

    # ------------------------------------------------------------------ answers

    def _advance(self, probe: _Probe) -> None:
        sock = probe.sock
        assert sock is not None
        try:
            if probe.state == "connect":
                code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if code != 0:
                    self._connect_failed(probe, os.strerror(code))
                else:
                    self._connected(probe)
            elif probe.state == "handshake":
                self._handshake(probe)
            elif probe.state == "send":
                self._send(probe)
            else:
                self._receive(probe)
        except BlockingIOError:
            return
        except HttpError as exc:
            self._finish(probe, ProbeResult(False, str(exc)))
        except OSError as exc:
            if probe.request.tls is not None:
                outcome = _tls_outcome(exc)
                if isinstance(outcome, int):
                    self._want(probe, outcome)
                    return
                if outcome is not None:
                    self._finish(probe, ProbeResult(False, outcome))
                    return
            if probe.reused and (probe.exchange is None or probe.exchange.received == 0):
                self._connect_again(probe)
                return
            answer = probe.exchange.partial() if probe.exchange is not None else None
            if answer is not None:
                self._answered(probe, answer)
            else:
                self._finish(probe, ProbeResult(
                    False, f"cannot get {probe.request.where}: {exc.strerror or exc}"))

    def _answered(self, probe: _Probe, answer: Answer) -> None:
        request = probe.request
        if request.kind == "http":
            reason = judge_status(answer.status)
            if reason is None and answer.keep_alive \
                    and probe.exchange is not None and probe.exchange.keep_alive \
                    and probe.sock is not None and probe.sock.fileno() < self._keep_below \
                    and _loopback(probe.address) and not probe.handle.cancelled:
                if probe.chain is not None:
                    self._keep(probe, probe.chain)
                elif probe.poll is not None:
                    self._park(probe)
            self._finish(probe, ProbeResult(reason is None, reason or "", peer=probe.address))
            return
        name, reason = card_name(answer)
        if name is not None:
            self._finish(probe, ProbeResult(True, peer=probe.address, name=name))
            return
        probe.errors = [*probe.errors, f"{request.paths[probe.path_index]}: {reason}"]
        if probe.path_index + 1 < len(request.paths) and self._clock() < probe.deadline:
            # The older card location, on a new connection to the address that answered.
            probe.path_index += 1
            self._close_socket(probe)
            probe.exchange = None
            self._connect_next(probe)
            return
        self._finish(probe, ProbeResult(False, "no agent card: " + "; ".join(probe.errors)))

    def _expire(self) -> None:
        now = self._clock()
        for probe in [p for p in self._resolving if p.deadline <= now]:
            self._resolving.remove(probe)
            self._finish(probe, ProbeResult(
                False, f"cannot resolve {probe.request.host}: no answer within "
                f"{probe.request.timeout:g} s"))
        for probe in [p for p in self._active if p.wake_at <= now]:
            if probe not in self._active:
                continue
            if probe.state == "connect" and now < probe.deadline:
                self._connect_failed(probe, "timed out")
                continue
            answer = probe.exchange.partial() if probe.exchange is not None else None
            if answer is not None:
                self._answered(probe, answer)
            elif probe.state == "connect" and len(probe.addresses) > 1:
                self._connect_failed(probe, "timed out")
            else:
                self._finish(probe, ProbeResult(
                    False, f"no answer within {probe.request.timeout:g} s"))

    def _keep(self, probe: _Probe, chain: _Chain) -> None:
        """Hand the probe's connection to its chain, watched for reading while idle."""
        sock = probe.sock
        assert sock is not None
        self._poller.modify(sock.fileno(), READ, chain)  # reading already: no system call
        if not probe.reused:
            chain.runs = 0
        chain.kept = sock
        chain.address = probe.address
        probe.sock = None
        probe.events = 0

    def _park(self, probe: _Probe) -> None:
        """Hold the connection on which a local agent passed readiness for the agent's
        first liveness check (`_adopt`), which then needs no new connection: a job's
        agents all become ready within seconds, and their first checks would otherwise
        all connect anew. Watched for reading like a chain's; closed unused after
        `PARK_FOR` seconds (an agent without HTTP liveness)."""
        key = (probe.request.host, probe.request.port)
        old = self._parked.pop(key, None)
        if old is not None:
            self._drop_kept(old[0])
        holder = _Chain(0.0, self._clock())
        self._keep(probe, holder)
        self._parked[key] = (holder, self._clock() + PARK_FOR)

    def _adopt(self, chain: _Chain, request: ProbeRequest) -> None:
        """Give a repeating HTTP probe the connection held for its agent, if any."""
        parked = self._parked.pop((request.host, request.port), None)
        if parked is None:
            return
        holder = parked[0]
        sock = holder.kept
        if sock is None or not _keeps_connection(request):
            self._drop_kept(holder)
            return
        chain.kept, chain.address, chain.runs = sock, holder.address, 0
        holder.kept = holder.address = None
        self._poller.modify(sock.fileno(), READ, chain)

    def _sweep(self, now: float) -> None:
        self._swept_at = now
        for key, (holder, until) in list(self._parked.items()):
            if holder.kept is None or now >= until:
                del self._parked[key]
                self._drop_kept(holder)

    def _close_socket(self, probe: _Probe) -> None:
        sock = probe.sock
        if sock is not None:
            with contextlib.suppress(KeyError):
                self._poller.unregister(sock.fileno())
            sock.close()
            probe.sock = None
            probe.events = 0

    def _finish(self, probe: _Probe, result: ProbeResult, *, report: bool = True) -> None:
        self._close_socket(probe)
        self._active.discard(probe)
        if not report:
            return
        chain = probe.chain
        if result.ok and chain is not None:
            if probe.handle.cancelled:
                self._drop_kept(chain)
            else:
                self._push((chain.next_due(self._clock()), next(self._counter),
                            probe.handle, probe.request, probe.done, chain, None))
            return
        if chain is not None:
            self._drop_kept(chain)
        if not result.ok and probe.poll is not None and self._poll_again(probe, result):
            return
        self._report(probe.done, result)

    def _poll_again(self, probe: _Probe, result: ProbeResult) -> bool:
        """Keep a polling probe's failure back and schedule its next attempt; False when
        the failure is to be passed on (the start deadline has come)."""
        handle = probe.handle
        if handle.cancelled:
            return True  # called off or flushed: nobody waits for this reason
        assert probe.poll is not None
        polling, asked_at, gated = probe.poll
        now = self._clock()
        following = polling.after(now - asked_at)
        if following is None:
            return False
        delay, polling = following
        handle.last_error = result.error
        due = _due_time(now, delay)
        if gated and self._listening_ports(now) is not None:
            # Look at the table every tick until then, and connect at once when the
            # agent listens; connect anyway at the schedule's time, but not more often
            # than TRY_ANYWAY, nor after the deadline.
            deadline = now + polling.timeout - polling.elapsed
            handle.try_at = min(now + max(delay, TRY_ANYWAY), deadline)
            due = _next_tick(now)
        self._push((due, next(self._counter), handle, probe.request, probe.done, None,
                    (polling, now, gated)))
        return True
