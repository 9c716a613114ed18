"""Gated polling probes: a local agent's readiness attempts wait for a listener on its
port, seen in the kernel's socket table (netlink sock_diag), instead of a refused
connect every 10 ms. Real sockets on loopback, the real kernel table."""

from __future__ import annotations

import queue
import socket
import threading
import time

import pytest

from agentsup.probes import addresses, listeners
from agentsup.probes.addresses import Address, NameCache
from agentsup.probes.listeners import ListeningPorts
from agentsup.probes.loop import TRY_ANYWAY, ProbeLoop, ProbeResult, probe_request
from agentsup.probes.polling import FAST_PERIOD, Polling

pytestmark = pytest.mark.timeout(60)



def test_the_table_lists_listening_ports_of_both_families_and_nothing_else() -> None:
    table = ListeningPorts()
    try:
        with socket.socket() as bound, socket.socket(socket.AF_INET6) as bound6:
            bound.bind(("127.0.0.1", 0))
            bound6.bind(("::1", 0))
            port, port6 = bound.getsockname()[1], bound6.getsockname()[1]
            ports = table.ports()
            assert ports is not None, "netlink sock_diag is available on this machine"
            assert port not in ports and port6 not in ports  # bound is not listening
            bound.listen()
            bound6.listen()
            ports = table.ports()
            assert ports is not None and {port, port6} <= ports
        ports = table.ports()
        assert ports is not None and port not in ports and port6 not in ports  # closed
    finally:
        table.close()


def _datagrams(family: int, sequence: int) -> list[bytes]:
    """The raw answer of one dump of `family`'s listening sockets, datagram by datagram."""
    with socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, listeners.NETLINK_SOCK_DIAG) as nl:
        header, request = listeners._HEADER, listeners._REQUEST
        nl.send(header.pack(header.size + request.size, listeners.SOCK_DIAG_BY_FAMILY,
                            listeners.NLM_F_REQUEST | listeners.NLM_F_DUMP, sequence, 0)
                + request.pack(family, socket.IPPROTO_TCP, 0, 0, 1 << listeners.TCP_LISTEN))
        answer: list[bytes] = []
        while not answer or header.unpack_from(answer[-1], len(answer[-1]) - 20)[1] != 3:
            answer.append(nl.recv(1 << 16))
    return answer


def _one_by_one(data: bytes) -> list[int]:
    ports = []
    for offset in range(0, len(data), (listeners._HEADER.unpack_from(data)[0] + 3) & ~3):
        ports.append(listeners._SPORT.unpack_from(data, offset + listeners._SPORT_AT)[0])
    return ports


def test_a_table_of_hundreds_of_listeners_is_read_in_strides_the_same_as_one_by_one() -> None:
    """Datagrams of nothing but sockets are read by strides (`_ports_at_once`); each
    must give the ports that reading its messages one by one gives, and anything else
    (the end of the dump, another dump's answer) must be left to that reading."""
    held = []
    try:
        for _ in range(300):
            sock = socket.socket()
            held.append(sock)
            sock.bind(("127.0.0.1", 0))
            sock.listen()
        answer = _datagrams(socket.AF_INET, 41)
        strided = [data for data in answer if listeners._ports_at_once(data, 41) is not None]
        assert strided, "300 sockets fill at least one datagram with nothing else"
        for data in strided:
            assert list(listeners._ports_at_once(data, 41) or []) == _one_by_one(data)
            assert listeners._ports_at_once(data, 42) is None  # another dump's answer
        assert listeners._ports_at_once(answer[-1], 41) is None  # holds the end
        ports = ListeningPorts().ports()
        assert ports is not None
        assert {sock.getsockname()[1] for sock in held} <= ports
    finally:
        for sock in held:
            sock.close()


def _connects_while_refused(loop: ProbeLoop, gated: bool, seconds: float) -> int:
    """Connections a polling tcp probe begins in `seconds` against a port that is
    bound but not listening (every connect refused); then it listens and the probe
    must pass."""
    results: queue.Queue[ProbeResult] = queue.Queue()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        request = probe_request(f"http://127.0.0.1:{port}", 2.0, kind="tcp")
        before = loop.connects
        loop.schedule(0.0, request, results.put, polling=Polling(0.0, 30.0, 10.0),
                      gated=gated)
        time.sleep(seconds)
        assert results.empty()  # refused attempts are kept back either way
        made = loop.connects - before
        sock.listen()
        assert results.get(timeout=10).ok
    return made


def test_a_gated_probe_connects_only_now_and_then_until_its_port_listens(
    loop: ProbeLoop,
) -> None:
    seconds = 1.5  # its first attempt comes after TRY_ANYWAY
    ungated = _connects_while_refused(loop, gated=False, seconds=seconds)
    gated = _connects_while_refused(loop, gated=True, seconds=seconds)
    assert gated >= 1  # it did try: its reason must be a real one
    assert gated <= seconds / TRY_ANYWAY + 2
    assert ungated > 3 * gated  # every 10 ms ungated


def test_a_gated_probe_reports_the_real_refusal_at_its_deadline(loop: ProbeLoop) -> None:
    results: queue.Queue[ProbeResult] = queue.Queue()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        loop.schedule(0.0, probe_request(f"http://127.0.0.1:{port}/health", 2.0),
                      results.put, polling=Polling(0.0, 0.8, 10.0), gated=True)
        result = results.get(timeout=10)
    assert not result.ok
    assert result.error == f"cannot connect to 127.0.0.1:{port}: Connection refused"
    assert results.empty()


def test_a_gated_probe_of_a_remote_name_is_not_gated(loop: ProbeLoop) -> None:
    """Only the names agentsup gives agents on this machine (localhost, 127.0.0.1,
    ::1) are looked up in its table; any other address is tried every time."""
    results: queue.Queue[ProbeResult] = queue.Queue()
    with socket.socket() as sock:
        sock.bind(("127.0.0.2", 0))
        port = sock.getsockname()[1]
        before = loop.connects
        loop.schedule(0.0, probe_request(f"http://127.0.0.2:{port}", 2.0, kind="tcp"),
                      results.put, polling=Polling(0.0, 30.0, 10.0), gated=True)
        time.sleep(0.5)
        made = loop.connects - before
        sock.listen()
        assert results.get(timeout=10).ok
    assert made > 0.5 / TRY_ANYWAY + 2


def test_an_agent_that_listens_after_the_schedule_thinned_out_is_tried_at_once(
    loop: ProbeLoop,
) -> None:
    """Past the fast period the readiness schedule waits longer and longer between
    attempts (here 7.5 s); a gated probe still looks at the table every tick and
    connects once the port listens, instead of at the schedule's next attempt."""
    late = Polling(elapsed=FAST_PERIOD + 10.0, timeout=60.0, interval=10.0, previous=5.0)
    for gated in (True, False):
        results: queue.Queue[ProbeResult] = queue.Queue()
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
            before = loop.connects
            handle = loop.schedule(0.0, probe_request(f"http://127.0.0.1:{port}", 2.0,
                                                      kind="tcp"),
                                   results.put, polling=late, gated=gated)
            while loop.connects == before:  # the first attempt, refused
                time.sleep(0.01)
            sock.listen()
            if gated:
                assert results.get(timeout=5.0).ok  # long before the schedule's 7.5 s
                assert loop.connects - before == 2
            else:
                time.sleep(1.0)
                assert results.empty() and loop.connects - before == 1
                handle.cancel()


def test_probes_called_off_at_the_gate_neither_connect_nor_report(loop: ProbeLoop) -> None:
    """Probes waiting for a listener are held together (`ProbeLoop._open_gate`); one
    cancelled there stays quiet when its port listens, one flushed there answers the
    flush with its last refusal, and a third, left alone, passes."""
    results: dict[str, queue.Queue[ProbeResult]] = {
        name: queue.Queue() for name in ("cancelled", "flushed", "flush", "kept")}
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        request = probe_request(f"http://127.0.0.1:{port}", 2.0, kind="tcp")
        handles = {
            name: loop.schedule(0.0, request, results[name].put,
                                polling=Polling(0.0, 30.0, 10.0), gated=True)
            for name in ("cancelled", "flushed", "kept")
        }
        deadline = time.monotonic() + 5
        while loop.connects < 3 and time.monotonic() < deadline:  # each tried once
            time.sleep(0.01)
        time.sleep(0.1)  # refused, and now at the gate
        handles["cancelled"].cancel()
        loop.flush(handles["flushed"], results["flush"].put)
        flushed = results["flush"].get(timeout=5)
        assert not flushed.ok
        assert flushed.error == f"cannot connect to 127.0.0.1:{port}: Connection refused"
        before = loop.connects
        sock.listen()
        assert results["kept"].get(timeout=5).ok
        time.sleep(0.2)  # time for any probe that should not connect to do so
        assert loop.connects - before == 1  # the kept probe's connect alone
    assert results["cancelled"].empty() and results["flushed"].empty()


def test_an_agent_that_listens_soon_is_not_tried_before_it_does(loop: ProbeLoop) -> None:
    """Asked for right after the launch, a gated probe waits at the gate from its first
    attempt: an agent that listens within TRY_ANYWAY costs one connect, the one that
    passes, and no refused one before it."""
    results: queue.Queue[ProbeResult] = queue.Queue()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        before = loop.connects
        loop.schedule(0.0, probe_request(f"http://127.0.0.1:{port}", 2.0, kind="tcp"),
                      results.put, polling=Polling(0.0, 30.0, 10.0), gated=True)
        time.sleep(0.3)
        assert loop.connects == before
        sock.listen()
        assert results.get(timeout=10).ok
        assert loop.connects - before == 1


def test_names_are_looked_up_once_per_host_not_per_port() -> None:
    """Every local agent is `localhost` on a port of its own: one lookup serves them
    all, each answer carrying its own port."""
    asked: list[str] = []
    woken = threading.Event()
    names = NameCache(woken.set)
    original = addresses.lookup_now

    def lookup(host: str, port: int) -> list[Address]:
        asked.append(host)
        return original(host, port)

    addresses.lookup_now = lookup
    try:
        assert names.get("localhost", 8001) is None  # looked up off this thread
        assert woken.wait(10)
        first = names.get("localhost", 8001)
        second = names.get("localhost", 8002)
        assert isinstance(first, list) and isinstance(second, list)
        assert {port for _, _, port in first} == {8001}
        assert {port for _, _, port in second} == {8002}
        assert [ip for _, ip, _ in first] == [ip for _, ip, _ in second]
        assert names.get("127.0.0.1", 8003) == [(socket.AF_INET, "127.0.0.1", 8003)]
        assert asked == ["localhost"]
    finally:
        addresses.lookup_now = original
        names.close()
