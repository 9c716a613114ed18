"""The small part of the OpenSSH client configuration that URLs need: `HostName`.

Only `Host` blocks with patterns and the `HostName` option are read. `Match` blocks and
`Include` directives are not evaluated; hosts they would rename keep their alias.
"""

from __future__ import annotations

import fnmatch
import re
import shlex
from pathlib import Path

_OPTION = re.compile(r"([A-Za-z]+)(?:\s*=\s*|\s+)(.*)")


def parse_host_names(text: str) -> list[tuple[list[str], str]]:
    """`(patterns, HostName)` pairs in file order."""
    blocks: list[tuple[list[str], str]] = []
    # Options before the first Host line apply to every host, as in ssh.
    patterns: list[str] | None = ["*"]
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        # `Key value`, `Key=value` and `Key = value`, with spaces or tabs.
        match = _OPTION.match(line)
        if match is None:
            continue
        key = match.group(1).lower()
        value = match.group(2).strip()
        try:
            words = shlex.split(value)
        except ValueError:
            words = value.split()
        if key == "host":
            patterns = words
        elif key == "match":
            patterns = None
        elif key == "hostname" and patterns is not None and words:
            blocks.append((patterns, words[0]))
    return blocks


def resolve_host(alias: str, blocks: list[tuple[list[str], str]]) -> str:
    """The first matching `HostName` wins, as in ssh; `%h` stands for the alias."""
    for patterns, host_name in blocks:
        positive = [p for p in patterns if not p.startswith("!")]
        negative = [p[1:] for p in patterns if p.startswith("!")]
        if any(fnmatch.fnmatchcase(alias, p) for p in negative):
            continue
        if any(fnmatch.fnmatchcase(alias, p) for p in positive):
            return host_name.replace("%h", alias)
    return alias


def host_name_resolver(config: Path | None = None) -> HostNames:
    """Read `~/.ssh/config` once; a missing or unreadable file renames nothing."""
    path = config or Path.home() / ".ssh" / "config"
    try:
        blocks = parse_host_names(path.read_text(encoding="utf-8", errors="replace"))
    except OSError:
        blocks = []
    return HostNames(blocks)


class HostNames:
    def __init__(self, blocks: list[tuple[list[str], str]]) -> None:
        self._blocks = blocks

    def __call__(self, alias: str) -> str:
        return resolve_host(alias, self._blocks)
