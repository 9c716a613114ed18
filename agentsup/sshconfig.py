"""Which address an SSH host alias stands for, read exactly as the connection reads it.

A remote agent's URL names the host the SSH connection goes to. The connection applies
the whole OpenSSH client configuration (`Host`, `Match`, `Include`, `%` tokens), so the
URL is taken from asyncssh's own parser of that configuration, with the same files, user
and port that the connection uses: a second, partial reader would let the URL and the
connection disagree.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from asyncssh.config import SSHClientConfig


def default_config_paths() -> list[Path]:
    """The files asyncssh reads when a connection names none: `~/.ssh/config` if readable."""
    path = Path("~", ".ssh", "config").expanduser()
    return [path] if os.access(path, os.R_OK) else []


def _local_user() -> str:
    import getpass  # with termios: only jobs with remote agents ask for the user

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""


class HostNames:
    """Looks up the address behind an alias; an unreadable or broken file renames nothing.

    Nothing is read until a remote agent's URL is asked for.
    """

    def __init__(self, config_paths: Sequence[Path] | None = None) -> None:
        self._paths = list(default_config_paths() if config_paths is None else config_paths)
        self._local_user: str | None = None  # asked for with the first remote alias

    def __call__(self, alias: str, user: str | None = None, port: int | None = None) -> str:
        if not self._paths:
            return alias
        try:
            config = self._load(alias, user, port, final=False)
            if config.has_match_final():
                # `Match final` blocks apply on a second pass, as when connecting.
                config = self._load(alias, user, port, final=True, last=config)
        except (OSError, ValueError):
            return alias  # the connection reports the problem with the file itself
        host = config.get("Hostname", alias)
        return str(host) if host else alias

    def _load(
        self,
        alias: str,
        user: str | None,
        port: int | None,
        *,
        final: bool,
        last: SSHClientConfig | None = None,
    ) -> SSHClientConfig:
        # asyncssh takes a third of a second to import: only jobs with remote agents pay.
        from asyncssh.config import SSHClientConfig

        if self._local_user is None:
            self._local_user = _local_user()

        config = SSHClientConfig.load(
            last,
            self._paths,
            last is not None,
            False,
            final,
            self._local_user,
            user if user is not None else (),
            alias,
            port if port is not None else (),
        )
        assert isinstance(config, SSHClientConfig)
        return config


def host_name_resolver(config: Path | None = None) -> HostNames:
    """The lookup for `config` (default: what asyncssh reads for a connection)."""
    return HostNames(None if config is None else ([config] if config.exists() else []))
