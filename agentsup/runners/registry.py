"""Which backend serves which target. Adding a target means adding its module and one
line here."""

from __future__ import annotations

from agentsup.job.models import Target
from agentsup.runners.base import Backend
from agentsup.runners.docker import DockerBackend
from agentsup.runners.local import LocalBackend
from agentsup.runners.ssh import SshBackend

BACKENDS: dict[Target, type[Backend]] = {
    Target.LOCALHOST: LocalBackend,
    Target.REMOTE: SshBackend,
    Target.CONTAINER: DockerBackend,
}


def supported_targets() -> frozenset[Target]:
    return frozenset(BACKENDS)
