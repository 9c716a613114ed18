"""The CLI builds only the running command's parser; what it parses must not change.

`cli.build_parser(command)` leaves out the other subcommands' parsers (a start-up cost,
docs/performance.md). Every command line here is parsed both ways, in process, and the
result, the help text and the error for a bad line must be the same. The real CLI as a
subprocess is covered by test_cli_static.py and the command tests.
"""

from __future__ import annotations

import contextlib
import io

import pytest

from agentsup import cli

LINES = [
    ["validate", "job.yaml"],
    ["validate", "job.yaml", "--skip-import-check"],
    ["plan", "job.yaml", "--format", "dot"],
    ["start", "job.yaml", "--log-format", "json", "--log-level", "warning"],
    ["start", "job.yaml", "--monitor=2.5"],
    ["down", "job.yaml", "--log-format", "console"],
    ["schema"],
    ["status"],
    ["status", "demo", "--json"],
    ["restart", "demo", "a", "b"],
    ["stop", "demo"],
    ["logs", "demo", "a", "-n", "3", "-f"],
    ["reload", "demo"],
]

BAD_LINES = [
    ["validate"],
    ["validate", "job.yaml", "--bogus"],
    ["plan", "job.yaml", "--format", "svg"],
    ["start", "job.yaml", "--monitor=-1"],
    ["restart", "demo"],
    ["logs", "demo", "-n", "many"],
    ["schema", "extra"],
]


def _outcome(command: str | None, words: list[str]) -> tuple[object, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            result: object = vars(cli.build_parser(command).parse_args(words))
        except SystemExit as exit:
            result = ("exit", exit.code)
    return result, out.getvalue(), err.getvalue()


def test_every_command_is_known() -> None:
    full = cli.build_parser()
    subparsers = next(a for a in full._actions if a.dest == "command")
    assert set(cli.COMMAND_NAMES) == set(subparsers.choices or ())


@pytest.mark.parametrize("words", LINES + BAD_LINES, ids=" ".join)
def test_one_command_parses_as_the_full_parser(words: list[str]) -> None:
    assert cli._command_word(words) == words[0]
    assert _outcome(words[0], words) == _outcome(None, words)


@pytest.mark.parametrize("command", cli.COMMAND_NAMES)
def test_one_command_help_is_the_same(command: str) -> None:
    narrowed = _outcome(command, [command, "--help"])
    assert narrowed == _outcome(None, [command, "--help"])
    assert narrowed[0] == ("exit", 0) and f"usage: agentsup {command}" in narrowed[1]


def test_no_command_word_builds_every_parser() -> None:
    assert cli._command_word(["--version"]) is None
    assert cli._command_word(["valdiate", "job.yaml"]) is None
    assert cli._command_word([]) is None
    result, _, err = _outcome(None, ["valdiate", "job.yaml"])
    assert result == ("exit", 2)
    assert "invalid choice: 'valdiate'" in err and "'validate'" in err
