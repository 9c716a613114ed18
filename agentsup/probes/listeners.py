"""Which TCP ports something listens on in this network namespace, from the kernel's
socket table (netlink `sock_diag`), in one round trip for all of them.

While local agents boot, their readiness probes would each try a connect every 10 ms
(`probes.polling`): with 50 agents that is 5,000 refused connects a second, each a
socket, a connect and a close, on a machine whose cores the booting agents need. One
dump of the listening sockets answers for every agent at once, for about as much as a
few connects, so the probe loop tries an agent only once its port has a listener
(`ProbeLoop.schedule(..., gated=True)`). Where netlink cannot be used (a sandbox that
refuses it), `ports` answers None and every attempt is made as before.
"""

from __future__ import annotations

import array
import contextlib
import ipaddress
import socket
import struct
import sys

NETLINK_SOCK_DIAG = 4
SOCK_DIAG_BY_FAMILY = 20
NLM_F_REQUEST = 0x1
NLM_F_DUMP = 0x300
NLMSG_ERROR = 2
NLMSG_DONE = 3
TCP_LISTEN = 10
_HEADER = struct.Struct("=LHHLL")
"""nlmsghdr: length, type, flags, sequence, port id."""
_REQUEST = struct.Struct("=BBBBL48x")
"""inet_diag_req_v2: family, protocol, extensions, pad, states, and a zeroed socket id."""
_SPORT = struct.Struct(">H")
_SPORT_AT = _HEADER.size + 4
"""inet_diag_msg: family, state, timer, retransmits, then the socket id, whose first
field is the source port in network order."""
_ADDRESS_AT = _HEADER.size + 8
"""The socket id's source address: 16 bytes in network order, an IPv4 one in the first 4."""
_INODE = struct.Struct("=L")
_INODE_AT = _HEADER.size + 68
"""After the 48-byte socket id: expires, rqueue, wqueue, uid, then the inode."""


class ListeningPorts:
    """Not thread-safe: the probe loop's thread alone asks."""

    def __init__(self) -> None:
        self._sock: socket.socket | None = None
        self._broken = False
        self._sequence = 0

    def ports(self) -> frozenset[int] | None:
        """Ports with a listening TCP socket (IPv4 or IPv6, any address); None when the
        kernel's table cannot be read here."""
        if self._broken:
            return None
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM,
                                           NETLINK_SOCK_DIAG)
            found: set[int] = set()
            for family in (socket.AF_INET, socket.AF_INET6):
                self._sequence += 1
                _dump(self._sock, family, self._sequence, found)
            return frozenset(found)
        except (OSError, struct.error):
            self._broken = True
            self.close()
            return None

    def close(self) -> None:
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.close()
            self._sock = None


def listening_on(port: int) -> list[tuple[int, str, int]] | None:
    """(family, bound address, inode) of every TCP socket listening on `port`; None
    where the kernel's table cannot be read here. Safe from any thread: a netlink
    socket of its own for each call.

    What the owner check (`probes.owners`) needs where it cannot borrow the agent's
    sockets: /proc/net/tcp lists every TCP socket of the machine, TIME_WAIT ones
    included, as text, and took tens of milliseconds to read on a busy machine; the
    dump holds the listening sockets alone."""
    found: list[tuple[int, str, int]] = []
    try:
        with socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_SOCK_DIAG) as sock:
            for sequence, family in enumerate((socket.AF_INET, socket.AF_INET6), 1):
                _dump(sock, family, sequence, set(), port=port, sockets=found)
    except (OSError, struct.error, AttributeError):  # AttributeError: no AF_NETLINK
        return None
    return found


def _dump(sock: socket.socket, family: int, sequence_wanted: int, found: set[int],
          *, port: int = 0, sockets: list[tuple[int, str, int]] | None = None) -> None:
    """One dump of `family`'s listening sockets: each one's port into `found`, or, with
    `sockets`, the family, address and inode of those on `port` into that instead."""
    sock.send(_HEADER.pack(_HEADER.size + _REQUEST.size, SOCK_DIAG_BY_FAMILY,
                           NLM_F_REQUEST | NLM_F_DUMP, sequence_wanted, 0)
              + _REQUEST.pack(family, socket.IPPROTO_TCP, 0, 0, 1 << TCP_LISTEN))
    while True:
        data = sock.recv(1 << 16)
        if sockets is None:
            ports = _ports_at_once(data, sequence_wanted)
            if ports is not None:
                found.update(ports)
                continue
        offset = 0
        while offset + _HEADER.size <= len(data):
            length, kind, _, sequence, _ = _HEADER.unpack_from(data, offset)
            if length < _HEADER.size:
                raise OSError("a malformed netlink answer")
            if sequence == sequence_wanted:
                if kind == NLMSG_DONE:
                    return
                if kind == NLMSG_ERROR:
                    raise OSError("netlink refused the socket dump")
                if sockets is None:
                    found.add(_SPORT.unpack_from(data, offset + _SPORT_AT)[0])
                elif _SPORT.unpack_from(data, offset + _SPORT_AT)[0] == port:
                    raw = data[offset + _ADDRESS_AT:offset + _ADDRESS_AT + 16]
                    address = (ipaddress.IPv4Address(raw[:4]) if family == socket.AF_INET
                               else ipaddress.IPv6Address(raw))
                    sockets.append((family, str(address),
                                    _INODE.unpack_from(data, offset + _INODE_AT)[0]))
            offset += (length + 3) & ~3


def _ports_at_once(data: bytes, sequence_wanted: int) -> array.array[int] | None:
    """The source ports of a datagram that holds only sockets of this dump, all of one
    size, as the kernel sends them (what size depends on the kernel: 124 bytes each for
    IPv4 on Linux 6.18), read by strides in C; None for any other datagram (the end of
    the dump, an error), which `_dump` reads message by message.

    The table is looked at every 10 ms while agents boot; with 200 sockets in it a look
    took 146 us of CPU read message by message and takes 120 us read so."""
    if len(data) < _SPORT_AT + 2:
        return None
    length = _HEADER.unpack_from(data)[0]
    stride = (length + 3) & ~3
    if length < _SPORT_AT + 2 or len(data) % stride or stride % 4:
        return None
    count = len(data) // stride
    view = memoryview(data)
    words, halves = view.cast("I"), view.cast("H")
    word_step, half_step = stride // 4, stride // 2
    if (words[0::word_step].tolist().count(length) != count
            or words[2::word_step].tolist().count(sequence_wanted) != count
            or halves[2::half_step].tolist().count(SOCK_DIAG_BY_FAMILY) != count):
        return None
    ports = array.array("H", halves[_SPORT_AT // 2::half_step].tolist())
    if sys.byteorder == "little":  # the port is in network order, the cast in the host's
        ports.byteswap()
    return ports
