"""Whether a test can give a program a private mount namespace (`unshare -m`), in which
it binds its own /etc/hosts or /etc/resolv.conf over the machine's.

That needs root (or unprivileged user namespaces, which `unshare -m` alone does not
ask for). A test that cannot have it skips with the reason, as a test that needs sshd
or Docker does; CI, which runs as root, turns such skips into failures.
"""

from __future__ import annotations

import functools
import shutil
import subprocess

import pytest


@functools.cache
def _refusal() -> str | None:
    if shutil.which("unshare") is None:
        return "unshare (util-linux) is not installed"
    done = subprocess.run(["unshare", "-m", "true"], capture_output=True, text=True,
                          timeout=30, check=False)
    if done.returncode != 0:
        return f"a private mount namespace is refused here (unshare -m: {done.stderr.strip()})"
    return None


def private_mounts_or_skip() -> None:
    reason = _refusal()
    if reason is not None:
        pytest.skip(reason)
