"""URLs that are known only once an agent runs: swarm agents outside their overlay.

Swarm decides at launch which node runs an agent's task, so the plan cannot name the
address that the supervisor and agents outside the swarm use. The plan carries a
placeholder instead (`placeholder`), the swarm runner binds the real URL here once the
task runs, and whoever needs a URL at launch time (the supervisor's probes, the
environment of an agent that connects to a swarm agent) looks it up with `live`. The
ordering rule makes this work: a caller starts only after its peers are ready, so their
URLs are bound by then.

The registry is shared by the threads of one supervisor process, hence the lock.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping, Sequence

_PLACEHOLDER = re.compile(r"^http://\{node of ([A-Za-z0-9][A-Za-z0-9_.-]*)\}:(\d+)$")
_PREFIX = "http://{node of "
"""What every placeholder starts with: a test far cheaper than the pattern, which runs
for every peer URL of every agent at the start (40,000 of them in a 200-agent mesh)."""

_lock = threading.Lock()
_bound: dict[str, str] = {}


def placeholder(agent_id: str, port: int) -> str:
    """How the plan names a swarm agent's URL: `http://{node of ID}:PORT`, the host part
    standing for "the node its task is scheduled to"."""
    return f"http://{{node of {agent_id}}}:{port}"


def placeholder_agent(url: str) -> str | None:
    """The agent a placeholder stands for, or None for an ordinary URL."""
    if not url.startswith(_PREFIX):
        return None
    match = _PLACEHOLDER.match(url)
    return None if match is None else match.group(1)


def any_placeholder(urls: Sequence[str]) -> bool:
    """Whether any of `urls` is a placeholder. Asked of every agent's peer URLs at the
    start (39,800 in a 200-agent mesh, none of them a placeholder unless swarm agents
    are in the job), so one search of them all, in C, comes first."""
    return _PREFIX in "".join(urls) and any(map(placeholder_agent, urls))


def bind(agent_id: str, url: str) -> None:
    with _lock:
        _bound[agent_id] = url


def unbind(agent_id: str) -> None:
    with _lock:
        _bound.pop(agent_id, None)


def live(url: str) -> str:
    """`url` with a placeholder replaced by the bound URL (unchanged when none is bound)."""
    agent_id = placeholder_agent(url)
    if agent_id is None:
        return url
    with _lock:
        return _bound.get(agent_id, url)


def live_map(urls: Mapping[str, str]) -> dict[str, str]:
    return {key: live(url) for key, url in urls.items()}
