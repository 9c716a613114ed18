"""The command lines of `agentsup status|restart|stop|logs|reload`.

Kept apart from the commands themselves: every run of the CLI builds these parsers,
while only the control commands need what runs them (the run directory, the HTTP
client), so `validate` and `start` do not import that.
"""

from __future__ import annotations

from typing import Any

COMMANDS = ("status", "restart", "stop", "logs", "reload")


def looks_like_path(argument: str) -> bool:
    """Whether a JOB argument that names no file was meant as a file all the same.

    A job name has no `/` (`rundir.check_name`) and job files end in `.yaml` or `.yml`,
    so such a word is a file that is missing, not a name; any other word that is no
    file is taken as a job's name.
    """
    return "/" in argument or argument.endswith((".yaml", ".yml"))


def add_parsers(commands: Any) -> None:
    """Add the subcommands to the CLI's subparsers."""
    job_help = "the job file as given to `start`, or the job's name"
    status = commands.add_parser("status", help="show the agents of running jobs")
    status.add_argument("job", nargs="?", help=job_help + " (default: every running job)")
    status.add_argument("--json", action="store_true", help="print JSON")

    restart = commands.add_parser(
        "restart", help="restart agents of a running job; wait until they are ready"
    )
    restart.add_argument("job", help=job_help)
    restart.add_argument("agents", nargs="+", metavar="AGENT")

    stop = commands.add_parser(
        "stop", help="stop a running job, or just some of its agents"
    )
    stop.add_argument("job", help=job_help)
    # argparse counts a `*` positional without a default as required, and names it in
    # the usage error when `job` is missing (`required: job, AGENT`); it is optional.
    stop.add_argument("agents", nargs="*", default=[], metavar="AGENT",
                      help="stop only these; they stay stopped until `restart`")

    logs = commands.add_parser("logs", help="show the last lines of agents' output")
    logs.add_argument("job", help=job_help)
    logs.add_argument("agents", nargs="*", default=[], metavar="AGENT",
                      help="default: every agent")
    logs.add_argument("-n", "--lines", type=int, default=10, metavar="N",
                      help="lines per agent (10)")
    logs.add_argument("-f", "--follow", action="store_true", help="keep printing new lines")

    reload = commands.add_parser("reload", help="re-read the job file and apply what changed")
    reload.add_argument("job", help=job_help)
