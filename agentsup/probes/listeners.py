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

import contextlib
import socket
import struct

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
                self._dump(self._sock, family, found)
            return frozenset(found)
        except (OSError, struct.error):
            self._broken = True
            self.close()
            return None

    def _dump(self, sock: socket.socket, family: int, found: set[int]) -> None:
        self._sequence += 1
        sock.send(_HEADER.pack(_HEADER.size + _REQUEST.size, SOCK_DIAG_BY_FAMILY,
                               NLM_F_REQUEST | NLM_F_DUMP, self._sequence, 0)
                  + _REQUEST.pack(family, socket.IPPROTO_TCP, 0, 0, 1 << TCP_LISTEN))
        while True:
            data = sock.recv(1 << 16)
            offset = 0
            while offset + _HEADER.size <= len(data):
                length, kind, _, sequence, _ = _HEADER.unpack_from(data, offset)
                if length < _HEADER.size:
                    raise OSError("a malformed netlink answer")
                if sequence == self._sequence:
                    if kind == NLMSG_DONE:
                        return
                    if kind == NLMSG_ERROR:
                        raise OSError("netlink refused the socket dump")
                    found.add(_SPORT.unpack_from(data, offset + _SPORT_AT)[0])
                offset += (length + 3) & ~3

    def close(self) -> None:
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.close()
            self._sock = None
