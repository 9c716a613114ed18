"""The `agentsup` command line.

Exit codes: 0 success (or a clean stop after SIGINT/SIGTERM/SIGHUP/SIGQUIT), 1 the job
failed, 2 the job file or the command line is invalid. Bad input never produces a
traceback.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentsup import __version__, collector
from agentsup.control import arguments as control_arguments
from agentsup.exitcodes import EXIT_INVALID, EXIT_OK
from agentsup.job.problems import JobFileError
from agentsup.words import plural

if TYPE_CHECKING:
    from agentsup.job.loader import LoadedJob
    from agentsup.plan import DeploymentPlan

# Each command imports what it alone needs, inside `main`: the job schema for `schema`,
# the loader and resolver for the commands that read a job file, the control client for
# the control commands, the actors and backends for `start`. Interpreter start-up and
# imports are most of what `validate` costs, and what `start` costs before its first
# stage (docs/performance.md).


PLAN_FORMATS = ("dot", "json", "mermaid", "text")
"""`plan --format`: the names of `render.RENDERERS`, which only `plan` imports."""


COMMAND_NAMES = ("validate", "plan", "start", "down", "schema", *control_arguments.COMMANDS)
"""Every subcommand; a command line that starts with one gets that one's parser alone."""


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The CLI's parser; with `command`, the parser of that subcommand alone is built.

    Each subcommand's parser costs argparse objects and a few gettext look-ups (about
    4 ms for all ten, most of argument parsing), and a run needs only its own. Without
    `command` (`agentsup --help`, a mistyped command) every one is built.
    """
    parser = argparse.ArgumentParser(
        prog="agentsup",
        description="Deploy and supervise a multi-agent job described in one YAML file.",
    )
    parser.add_argument("--version", action="version", version=f"agentsup {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands: Any = subparsers if command is None else _OneCommand(subparsers, command)

    validate = commands.add_parser("validate", help="check a job file")
    _job_arguments(validate)

    plan = commands.add_parser("plan", help="show the stages, URLs and connections of a job")
    _job_arguments(plan)
    plan.add_argument(
        "--format", choices=PLAN_FORMATS, default="text", help="output format (text)"
    )

    start = commands.add_parser("start", help="run a job in the foreground until stopped")
    _job_arguments(start)
    start.add_argument(
        "--log-format",
        choices=["auto", "json", "console"],
        default="auto",
        help="auto (default): a live view on a terminal, json otherwise; console: "
        "readable lines",
    )
    start.add_argument(
        "--log-level",
        choices=["debug", "info", "warning", "error"],
        default="info",
        help="lowest level of event to write (info)",
    )
    start.add_argument(
        "--monitor",
        nargs="?",
        type=monitor_interval,
        const=MONITOR_DEFAULT,
        default=None,
        metavar="SECONDS",
        help="emit a job.health summary every SECONDS (10)",
    )

    down = commands.add_parser(
        "down", help="remove what earlier runs of a job left behind (containers, remote agents)"
    )
    _job_arguments(down)  # the file, not a job name: it says where the agents ran
    down.add_argument("--log-format", choices=["auto", "json", "console"], default="auto",
                      help="event format (auto: console on a terminal, json otherwise)")

    commands.add_parser("schema", help="print the JSON Schema of job files")
    control_arguments.add_parsers(commands)
    return parser


class _OneCommand:
    """The subparsers, narrowed to one command: the others' parsers are not built."""

    def __init__(self, subparsers: Any, command: str) -> None:
        self.subparsers = subparsers
        self.command = command

    def add_parser(self, name: str, **kwargs: Any) -> Any:
        if name == self.command:
            return self.subparsers.add_parser(name, **kwargs)
        return _NotThisRun()


class _NotThisRun:
    """Stands in for the parser of a command this run does not use."""

    def add_argument(self, *args: Any, **kwargs: Any) -> None:
        """Its arguments are not needed."""


def _command_word(words: Sequence[str]) -> str | None:
    """The subcommand, when the command line starts with one (options come after it)."""
    return words[0] if words and words[0] in COMMAND_NAMES else None


def monitor_interval(text: str) -> float:
    """`--monitor SECONDS`: a finite duration within the job file's bounds."""
    from agentsup.job.values import MAX_SECONDS

    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not (math.isfinite(seconds) and 0 < seconds <= MAX_SECONDS):
        raise argparse.ArgumentTypeError(
            f"{text!r}: must be more than 0 and at most {MAX_SECONDS:g} seconds"
        )
    return seconds


def _job_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("job", type=Path, help="the job file (YAML)")
    parser.add_argument(
        "--skip-import-check",
        action="store_true",
        help="do not check that local agents' modules exist and define their type",
    )


def _down_without_file(job: Path) -> int | None:
    """`agentsup down NAME`: say that `down` takes the job file, and give the exit code;
    None when `job` is a file or is plainly meant as one (the loader then reports it).

    Unlike the control commands, `down` cannot work from a job's name: what an earlier
    run left behind (containers, services, remote agents) is found on the targets only
    the file names, and that run's supervisor, which knew them, is gone.
    """
    word = str(job)
    if job.exists() or job.is_symlink() or control_arguments.looks_like_path(word):
        return None
    print(f"agentsup: {word}: no such file; `agentsup down` takes the job file, not the "
          "job's name: it reads from the file where the agents ran", file=sys.stderr)
    return EXIT_INVALID


def _load(args: argparse.Namespace) -> LoadedJob:
    from agentsup.job.loader import load_job

    return load_job(args.job, import_check=not args.skip_import_check)


def _resolve(loaded: LoadedJob) -> DeploymentPlan:
    from agentsup.resolving import resolve

    return resolve(loaded)


MONITOR_DEFAULT = 10.0


def _monitor_without_value(argv: Sequence[str]) -> list[str]:
    """`--monitor job.yaml` means the default interval, not an interval of "job.yaml".

    argparse gives an optional value to `--monitor` whenever a word follows it; a word
    that is not a number is the job file, so the flag is rewritten as `--monitor=10`.
    """
    words = list(argv)
    for index, word in enumerate(words[:-1]):
        if word == "--":
            break
        if word == "--monitor" and not _is_number(words[index + 1]):
            words[index] = f"--monitor={MONITOR_DEFAULT:g}"
    return words


def _is_number(word: str) -> bool:
    try:
        float(word)
    except ValueError:
        return False
    return True


def _interrupt_on_stop_signals() -> None:
    """SIGTERM, SIGHUP and SIGQUIT, like SIGINT, interrupt `start` while it loads the job.

    `run_job` sets the job's own handlers once the file is loaded; before that, the
    default action would kill the process and exit 143, 129 or 131, where a stop by
    signal exits 0. Like the job's handlers (`signals.trapped`), these replace whatever was
    set before, except a SIGHUP ignored by `nohup`: it stays ignored, in a way the
    processes agentsup starts do not inherit (see `signals`).
    """
    import signal

    from agentsup.signals import hangup_ignored, ignore_signal

    signal.signal(signal.SIGTERM, signal.default_int_handler)
    signal.signal(signal.SIGQUIT, signal.default_int_handler)
    hangup = ignore_signal if hangup_ignored() else signal.default_int_handler
    signal.signal(signal.SIGHUP, hangup)


def main(argv: Sequence[str] | None = None) -> int:
    """The `agentsup` program: run one command and return its exit code.

    The cyclic collector stays off while the command starts and is skipped at exit
    (agentsup/collector.py); `start` and the control commands turn it back on for as
    long as they run.
    """
    with collector.paused():
        try:
            return _main(argv)
        except BrokenPipeError:
            # The reader went away (`agentsup status | head -1`): what it wanted, it
            # has. Stop quietly; stdout goes to /dev/null so that the flush at exit
            # cannot fail again.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
            return EXIT_OK


def _main(argv: Sequence[str] | None) -> int:
    words = _monitor_without_value(sys.argv[1:] if argv is None else argv)
    parser = build_parser(_command_word(words))
    args = parser.parse_args(words)
    try:
        match args.command:
            case "validate":
                loaded = _load(args)
                plan = _resolve(loaded)
                print(
                    f"{args.job}: valid: job {loaded.definition.job.name!r}, "
                    f"{plural(len(loaded.definition.agents), 'agent')}, "
                    f"{loaded.definition.topology.type.value} topology, "
                    f"{plural(len(plan.stages), 'stage')}"
                )
                return EXIT_OK
            case "plan":
                from agentsup.render import RENDERERS

                print(RENDERERS[args.format](_resolve(_load(args))))
                return EXIT_OK
            case "schema":
                import json

                from agentsup.job.schema import job_schema

                print(json.dumps(job_schema(), indent=2))
                return EXIT_OK
            case "down":
                if (refused := _down_without_file(args.job)) is not None:
                    return refused
                loaded = _load(args)
                from agentsup.app import down_job

                return down_job(loaded, _resolve(loaded), log_format=args.log_format)
            case command if command in control_arguments.COMMANDS:
                from agentsup.control import commands as control_commands

                collector.resume()  # `logs --follow` runs as long as the job does
                return control_commands.run(args)
            case "start":
                _interrupt_on_stop_signals()
                try:
                    loaded = _load(args)
                    plan = _resolve(loaded)
                    from agentsup.app import run_job
                except KeyboardInterrupt:
                    return EXIT_OK  # stopped before anything ran: a clean stop
                return run_job(
                    loaded,
                    plan,
                    log_format=args.log_format,
                    log_level=args.log_level,
                    monitor=args.monitor,
                )
    except JobFileError as exc:
        print(exc.render(), file=sys.stderr)
        return EXIT_INVALID
    except KeyboardInterrupt:
        return 130
    parser.error(f"unknown command {args.command!r}")  # pragma: no cover - argparse guards


if __name__ == "__main__":  # `python -m agentsup.cli ...` runs the command, as the script does
    sys.exit(main())
