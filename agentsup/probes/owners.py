"""Whose listening socket answered a probe (Linux, from /proc).

A probe that connects to `localhost:PORT` reaches whoever listens there. When an agent
has not bound its port (it crashed, or is still loading) and another process has, the
answer is not the agent's, and counting it would make a dead agent ready. So a local
agent's readiness also asks: does the listening socket that takes connections to that
address belong to a process of the agent's tree (its process group, or a descendant of
its leader)?

Two ways to tell, the cheap one first:

- look at the sockets the agent's processes hold (`/proc/<pid>/fd`), each borrowed for a
  moment with `pidfd_getfd` (Linux 5.6; the supervisor is their ancestor, which the
  kernel's ptrace rules allow) to ask whether it listens and where: well under a
  millisecond;
- where that is not possible (Linux before 5.6: Ubuntu 20.04's 5.4, RHEL 8's 4.18;
  or refused, as under Yama's `ptrace_scope` 2), find the listening socket's inode in
  the kernel's table of listening sockets (netlink `sock_diag`, `probes.listeners`) and
  look for `socket:[INODE]` under the processes' fds. Only where netlink cannot be
  used either is the inode looked up in /proc/net/tcp{,6}, which lists every TCP
  socket of the machine, TIME_WAIT ones included, and takes tens of milliseconds to
  read on a busy machine.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import socket
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from agentsup.probes.listeners import listening_on

if TYPE_CHECKING:
    import ctypes

PROC = Path("/proc")
LISTEN = "0A"
SYS_PIDFD_GETFD = 438
"""The same number on every architecture (system calls from 424 on are shared)."""

_libc: ctypes.CDLL | None = None
"""Loaded at the first look (ctypes is not needed before the first agent is ready)."""

__all__ = ["listener_inodes", "owned_by_tree", "process_tree", "socket_inodes"]


def _address(hex_text: str) -> str:
    """/proc/net/tcp's address: 32-bit words in host (little-endian) order."""
    raw = bytes.fromhex(hex_text)
    words = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    return str(ipaddress.ip_address(words))


def _listeners(table: str, port: int) -> Iterator[tuple[str, int]]:
    """(address, inode) of each socket listening on `port` in one /proc/net table."""
    try:
        lines = (PROC / "net" / table).read_text().splitlines()[1:]
    except OSError:
        return
    for line in lines:
        fields = line.split()
        if len(fields) < 10 or fields[3] != LISTEN:
            continue
        address, _, port_hex = fields[1].partition(":")
        if int(port_hex, 16) == port:
            yield _address(address), int(fields[9])


def _listening(port: int) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
    """(address, inode) of the IPv4 and of the IPv6 sockets listening on `port`: from
    the kernel's table of listening sockets (netlink), or where that cannot be read,
    from /proc/net/tcp and tcp6."""
    dumped = listening_on(port)
    if dumped is None:
        return list(_listeners("tcp", port)), list(_listeners("tcp6", port))
    return ([(bound, inode) for kind, bound, inode in dumped if kind == socket.AF_INET],
            [(bound, inode) for kind, bound, inode in dumped if kind == socket.AF_INET6])


def listener_inodes(family: int, address: str, port: int) -> set[int]:
    """The inodes of the sockets that take a connect to (address, port).

    A socket bound to the very address wins over one bound to the wildcard, as in the
    kernel; an IPv6 wildcard socket takes IPv4 connects too (unless it is V6ONLY,
    which this does not see).
    """
    exact: set[int] = set()
    wildcard: set[int] = set()
    ip = ipaddress.ip_address(address)
    ipv4, ipv6 = _listening(port)
    if family == socket.AF_INET:
        mapped = str(ipaddress.IPv6Address(f"::ffff:{ip}"))
        for bound, inode in ipv4:
            (exact if bound == str(ip) else wildcard if bound == "0.0.0.0" else set()).add(inode)
        for bound, inode in ipv6:
            (exact if bound == mapped else wildcard if bound == "::" else set()).add(inode)
    else:
        for bound, inode in ipv6:
            (exact if bound == str(ip) else wildcard if bound == "::" else set()).add(inode)
    return exact or wildcard


def socket_inodes(pid: int) -> set[int]:
    """The inodes of the sockets `pid` holds open (empty when it is gone or not ours)."""
    found: set[int] = set()
    try:
        names = os.listdir(PROC / str(pid) / "fd")
    except OSError:
        return found
    for name in names:
        try:
            target = os.readlink(PROC / str(pid) / "fd" / name)
        except OSError:
            continue
        if target.startswith("socket:["):
            found.add(int(target[8:-1]))
    return found


def _processes() -> Iterable[tuple[int, int, int]]:
    """(pid, parent pid, process group) of every process."""
    for entry in os.scandir(PROC):
        if not entry.name.isdigit():
            continue
        try:
            stat = (PROC / entry.name / "stat").read_text()
        except OSError:
            continue
        # The command name may hold spaces and parentheses: split after the last ')'.
        fields = stat[stat.rfind(")") + 2:].split()
        yield int(entry.name), int(fields[1]), int(fields[2])


def process_tree(leader: int) -> set[int]:
    """`leader`, the members of its process group, and every descendant of it."""
    children: dict[int, list[int]] = {}
    tree = {leader}
    for pid, parent, group in _processes():
        children.setdefault(parent, []).append(pid)
        if group == leader:
            tree.add(pid)
    todo = list(tree)
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in tree:
                tree.add(child)
                todo.append(child)
    return tree


class _CannotBorrow(Exception):
    """pidfd_getfd is missing or not allowed here."""


def _borrow(pid: int, fds: list[int]) -> Iterator[socket.socket]:
    """Each of `pid`'s descriptors `fds` as a socket of ours (close-on-exec), for a look."""
    global _libc
    import ctypes

    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    try:
        pidfd = os.pidfd_open(pid)
    except OSError as exc:
        if exc.errno == errno.ESRCH:
            return
        raise _CannotBorrow from exc
    try:
        for fd in fds:
            copy = _libc.syscall(SYS_PIDFD_GETFD, pidfd, fd, 0)
            if copy < 0:
                code = ctypes.get_errno()
                if code in (errno.EBADF, errno.ESRCH):
                    continue  # closed meanwhile, or the process is gone
                raise _CannotBorrow(os.strerror(code))
            try:
                yield socket.socket(fileno=copy)
            except OSError:
                os.close(copy)
    finally:
        os.close(pidfd)


def _takes(sock: socket.socket, family: int, address: str, port: int) -> bool:
    """Whether `sock` listens where a connect to (address, port) would land."""
    try:
        if not sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN):
            return False
        bound = sock.getsockname()
    except OSError:
        return False
    if sock.family not in (socket.AF_INET, socket.AF_INET6) or int(bound[1]) != port:
        return False
    host = str(bound[0])
    if sock.family == socket.AF_INET:
        return family == socket.AF_INET and host in (address, "0.0.0.0")
    if family == socket.AF_INET:
        return host in ("::", f"::ffff:{address}")
    return host in (address, "::")


def _socket_fds(pid: int) -> list[int]:
    # Plain strings, not `Path`: this runs for every agent that becomes ready, over
    # each of its descriptors, and a `Path` per descriptor was most of its cost
    # (1.2 ms for an agent with about 20 descriptors).
    directory = f"{PROC}/{pid}/fd/"
    fds: list[int] = []
    try:
        names = os.listdir(directory)
    except OSError:
        return fds
    for name in names:
        try:
            if os.readlink(directory + name).startswith("socket:["):
                fds.append(int(name))
        except OSError:
            continue
    return fds


def _listens(pid: int, family: int, address: str, port: int) -> bool:
    """Whether `pid` holds a socket listening where (address, port) lands; raises
    `_CannotBorrow` when its sockets cannot be looked at."""
    for sock in _borrow(pid, _socket_fds(pid)):
        with sock:
            if _takes(sock, family, address, port):
                return True
    return False


def owned_by_tree(leader: int, family: int, address: str, port: int) -> bool | None:
    """Whether the listener that takes connects to (address, port) belongs to the tree
    of `leader`; None when there is no /proc to tell (not Linux)."""
    if not (PROC / "net" / "tcp").exists():
        return None
    try:
        if _listens(leader, family, address, port):
            return True  # the usual case, without a walk over every process
        return any(_listens(pid, family, address, port)
                   for pid in process_tree(leader) if pid != leader)
    except _CannotBorrow:
        pass
    inodes = listener_inodes(family, address, port)
    if not inodes:
        return False  # the listener is gone already: nothing of the agent's answered
    if socket_inodes(leader) & inodes:
        return True  # the usual case, without a walk over every process
    return any(socket_inodes(pid) & inodes for pid in process_tree(leader) if pid != leader)
