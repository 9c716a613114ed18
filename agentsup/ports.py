"""Is a local port already taken? Checked before anything starts, so that a clash is
reported by port and agent instead of as an agent that never becomes healthy."""

from __future__ import annotations

import socket


def port_in_use(port: int) -> bool:
    """True when some process listens on `port` on any local address.

    Binding with SO_REUSEADDR ignores connections lingering in TIME_WAIT (a port from
    a previous run is free again at once) but still fails while anything listens.

    A port agentsup may not bind (below 1024 without CAP_NET_BIND_SERVICE: `EACCES`)
    tells nothing about whether it is in use, and the agent may be allowed to bind it
    where agentsup is not (file capabilities, authbind); it is not called in use. An
    agent that cannot bind it fails its start with its own error.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("0.0.0.0", port))
        except PermissionError:
            return False
        except OSError:
            return True
    return False


def ports_in_use(wanted: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """The `(agent id, port)` pairs whose port is taken."""
    return [(agent_id, port) for agent_id, port in wanted if port_in_use(port)]


def free_ports(count: int) -> list[int]:
    """Distinct loopback ports that were free a moment ago (for tests and benchmarks)."""
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            held = socket.socket()
            held.bind(("127.0.0.1", 0))
            sockets.append(held)
        return [held.getsockname()[1] for held in sockets]
    finally:
        for held in sockets:
            held.close()
