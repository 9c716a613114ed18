"""Enough open files for the job: the soft `RLIMIT_NOFILE` raised toward the hard limit.

A local agent holds about five descriptors in the supervisor: its stdout and stderr
pipes, a pidfd, the kept connection of its liveness checks, and now and then a fresh
one. The soft limit most systems give a login shell, 1024, runs out near 200 agents,
while the hard limit above it (often 524288) is there to be asked for. Without the raise
the job fails halfway through its start with `Too many open files`.

The soft limit is raised to what the job wants, not to the hard limit: agents inherit
it, and a program that still uses `select()` breaks on descriptors past 1024, so they
should see as small a change as the job allows. A limit that cannot be raised far
enough (a low hard limit) is reported once, before the first agent starts.
"""

from __future__ import annotations

import resource

import msgspec

PER_AGENT = 8
"""Descriptors counted per agent: the five above with room for exec probes and reloads."""
BASE = 256
"""Descriptors for the supervisor itself: control socket, log files, Docker and SSH
connections, the reaper's pipe."""


def wanted(agents: int) -> int:
    """How many open files a job of `agents` agents should be able to hold."""
    return BASE + PER_AGENT * agents


class OpenFiles(msgspec.Struct, frozen=True):
    agents: int
    wanted: int
    limit: int
    """The soft limit after `ensure_open_files`; `resource.RLIM_INFINITY` if none."""
    hard: int

    @property
    def short(self) -> bool:
        return self.limit != resource.RLIM_INFINITY and self.limit < self.wanted

    def reason(self) -> str:
        hard = "unlimited" if self.hard == resource.RLIM_INFINITY else str(self.hard)
        return (
            f"the open-files limit is {self.limit} (hard limit {hard}) and {self.agents} agents "
            f"want about {self.wanted}: agents may fail to start with 'Too many open "
            "files'; raise the hard limit (ulimit -Hn as root, LimitNOFILE= in a "
            "systemd unit)"
        )


def ensure_open_files(agents: int) -> OpenFiles:
    """Raise this process's soft limit to `wanted(agents)` if it is lower, as far as the
    hard limit allows; never lower it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = wanted(agents)
    if soft == resource.RLIM_INFINITY or soft >= need:
        return OpenFiles(agents, need, soft, hard)
    target = need if hard == resource.RLIM_INFINITY else min(hard, need)
    if target > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):
            pass  # a sandbox that refuses: report what we have
        else:
            soft = target
    return OpenFiles(agents, need, soft, hard)
