"""Which backend serves which target. Adding a target means adding its module and one
line here.

Backends are imported only when a job uses their target: the SSH and Docker client
libraries take a noticeable part of a second to import, which a job of local agents
should not pay at every start.
"""

from __future__ import annotations

import importlib

from agentsup.job.models import Target
from agentsup.runners.base import Backend

_BACKENDS: dict[Target, tuple[str, str]] = {
    Target.LOCALHOST: ("agentsup.runners.local", "LocalBackend"),
    Target.REMOTE: ("agentsup.runners.ssh", "SshBackend"),
    Target.CONTAINER: ("agentsup.runners.docker", "DockerBackend"),
    Target.SWARM: ("agentsup.runners.swarm", "SwarmBackend"),
}


def supported_targets() -> frozenset[Target]:
    return frozenset(_BACKENDS)


def backend_class(target: Target) -> type[Backend]:
    """The backend class for a supported target (`KeyError` for any other)."""
    module_name, class_name = _BACKENDS[target]
    backend = getattr(importlib.import_module(module_name), class_name)
    if not (isinstance(backend, type) and issubclass(backend, Backend)):
        raise TypeError(f"{module_name}.{class_name} is not a Backend")
    return backend
