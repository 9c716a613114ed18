"""What one health probe asks and what it answers: plain values, made once per agent.

A request is built from the agent's URL and its probe settings; the loop (`loop`) only
carries it out. TLS contexts are made once per CA file and shared.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlsplit

import msgspec

from agentsup.probes.addresses import Address

if TYPE_CHECKING:
    import ssl

A2A_PATHS = ("/.well-known/agent-card.json", "/.well-known/agent.json")
"""Where an A2A agent publishes its card: the current name first, then the older one."""

Kind = Literal["http", "tcp", "a2a"]


class ProbeResult(msgspec.Struct, frozen=True):
    """A check's verdict. Two results are equal when their verdicts are: `peer` and `name`
    say where an answer came from, which the verdict does not depend on."""

    ok: bool
    error: str = ""
    peer: Address | None = None
    """The address that answered (for the check that the agent itself listens there)."""
    name: str | None = None
    """An A2A agent card's `name`."""

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ProbeResult):
            return NotImplemented
        return self.ok == other.ok and self.error == other.error

    def __hash__(self) -> int:
        return hash((self.ok, self.error))


Done = Callable[[ProbeResult], None]


class ProbeRequest(msgspec.Struct, frozen=True):
    """What to probe: a connect (tcp), a GET (http), or the agent card (a2a)."""

    kind: Kind
    host: str
    port: int
    timeout: float
    paths: tuple[str, ...] = ()
    tls: ssl.SSLContext | None = None

    @property
    def where(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


_contexts: dict[str | None, ssl.SSLContext] = {}
_contexts_lock = threading.Lock()


def tls_context(ca_file: str | None) -> ssl.SSLContext:
    """Unverified by default, like Kubernetes (a probe sends no secrets); verified against
    `ca_file`, host name included, when one is given. Made once per CA file.

    OpenSSL is loaded here, by the first probe that needs it (see `loop._tls_outcome`)."""
    import ssl

    with _contexts_lock:
        context = _contexts.get(ca_file)
        if context is None:
            if ca_file is None:
                context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            else:
                context = ssl.create_default_context(cafile=ca_file)
            _contexts[ca_file] = context
        return context


def probe_request(
    url: str,
    timeout: float,
    *,
    kind: Kind = "http",
    path: str = "",
    scheme: str | None = None,
    ca_file: str | None = None,
) -> ProbeRequest:
    """The request for an agent at `url` (its `http://host:port`); `scheme` overrides the
    URL's. Raises ValueError for what cannot be probed."""
    parts = urlsplit(url)
    scheme = scheme or parts.scheme
    if scheme not in ("http", "https"):
        raise ValueError(f"only http:// and https:// URLs can be probed, not {url!r}")
    host = parts.hostname or "localhost"
    port = parts.port or (443 if scheme == "https" else 80)
    full_path = (parts.path.rstrip("/") + path) if path else (parts.path or "/")
    if parts.query:
        full_path += "?" + parts.query
    paths: tuple[str, ...] = ()
    if kind == "http":
        paths = (full_path or "/",)
    elif kind == "a2a":
        paths = A2A_PATHS
    try:
        tls = tls_context(ca_file) if scheme == "https" and kind != "tcp" else None
    except OSError as exc:  # ssl.SSLError is one
        raise ValueError(f"cannot use the CA file {ca_file}: {exc}") from None
    return ProbeRequest(kind, host, port, timeout, paths, tls)
