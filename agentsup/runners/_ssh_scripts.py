"""What the SSH backend runs on remote hosts, as shell words and small Python scripts.

Everything here is pure text: the pre-start check and exec-check scripts, shell quoting
of remote paths, the launch description the watchdog receives, and where run records
live. Values that may be secret (the agent's environment) never go on a command line;
the scripts read them from stdin.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from typing import Any

from agentsup.job.models import Agent
from agentsup.runners.base import LaunchSpec

RECORD_ROOT = "~/.agentsup"
"""Run records live in `RECORD_ROOT/<job>/<machine id>/<agent>.json` on each remote host."""

PYTHON_MARK = "agentsup: python ok"
"""What the check script prints once it runs as Python 3.7+: a `deployment.python`
that exits 0 without running it (`/bin/true`) is not an interpreter."""

CHECK_SCRIPT = """\
import sys
if sys.version_info < (3, 7):
    sys.exit(105)
sys.stdout.write("agentsup: python ok\\n")
sys.stdout.flush()
import json, os, subprocess
# The agent's environment comes on stdin, never on a command line (ps shows those).
env = dict(os.environ)
env.update(json.loads(sys.stdin.readline() or "{}"))
if len(sys.argv) > 1:
    find = (
        "import importlib.util, sys\\n"
        "try:\\n"
        "    found = importlib.util.find_spec(sys.argv[1]) is not None\\n"
        "except Exception:\\n"
        "    found = False\\n"
        "sys.exit(0 if found else 103)\\n"
    )
    sys.exit(subprocess.call([sys.executable, "-c", find, sys.argv[1]], env=env))
"""

EXEC_SCRIPT = """\
import json, os, sys
# An exec health check: the agent's environment on stdin, as for the agent itself.
env = dict(os.environ)
env.update(json.loads(sys.stdin.readline() or "{}"))
os.chdir(os.path.expanduser(sys.argv[1]))
os.execvpe(sys.argv[2], sys.argv[2:], env)
"""


def exec_command_line(python: str, cwd: str, argv: Sequence[str]) -> str:
    """The shell command of an exec check: the check's argv is on it, never the agent's
    environment, which `EXEC_SCRIPT` reads from stdin."""
    words = [python, "-c", EXEC_SCRIPT, cwd, *argv]
    return " ".join(shlex.quote(word) for word in words)


def decode(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


def tail(text: str, lines: int = 3) -> str:
    kept = [line.strip() for line in text.strip().splitlines() if line.strip()][-lines:]
    return " / ".join(kept) if kept else "no error output"


def remote_path(path: str) -> str:
    """A remote path as a shell word: quoted, except a leading `~/` (the remote home)."""
    if path == "~":
        return "~"
    if path.startswith("~/"):
        rest = path[2:]
        return "~/" + shlex.quote(rest) if rest else "~"
    return shlex.quote(path)


def agent_launch(spec: LaunchSpec) -> dict[str, Any]:
    """What the watchdog starts: `cd WORKDIR && exec "$@"` with the agent's argv as the
    shell's arguments and its environment as the process environment, so that no value
    (secrets among them) ever appears on a command line that `ps` would show."""
    return {
        "command": f'cd {remote_path(str(spec.cwd))} && exec "$@"',
        "argv": list(spec.argv),
        "env": dict(spec.env),
    }


def record_dir(job_name: str) -> str:
    return f"{RECORD_ROOT}/{job_name}"


def watchdog_python(agent: Agent) -> str:
    """The interpreter for the watchdog (and for module agents): deployment.python or
    python3."""
    return agent.deployment.python or "python3"
