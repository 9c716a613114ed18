"""Job files read through libyaml's events give what PyYAML's Python loader gives.

`yamlpos.parse` reads the text with libyaml where PyYAML has it and falls back to the
Python loader for what libyaml reads otherwise. These tests hold the two to the same
outcome: the data, every position, the problems and the numbers as written, or the
same error at the same place.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentsup.job import yamlpos
from agentsup.job.yamlpos import YamlSyntaxError, parse

EXAMPLES = sorted((Path(__file__).parent.parent / "examples").glob("*.yaml"))

pytestmark = pytest.mark.skipif(yamlpos._EventsInC is None, reason="PyYAML without libyaml")


def outcome(read: Any) -> tuple[Any, ...]:
    try:
        result = read()
    except YamlSyntaxError as exc:
        return ("error", exc.message, exc.mark)
    return ("read", result.data, result.positions, result.problems, result.numbers)


def in_python(text: str) -> tuple[Any, ...]:
    return outcome(lambda: yamlpos._parse_with(yaml.SafeLoader, text))


def agents_file(count: int) -> str:
    lines = ["job: {name: many}", "agents:"]
    for number in range(count):
        lines += [f"  - id: a{number}", "    command: [python3, -m, http.server]",
                  f"    config: {{port: {9000 + number}, ratio: 1.10, mode: '{number}'}}",
                  "    deployment:", "      environment: {LEVEL: debug}"]
    lines += ["topology:", "  type: mesh"]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_the_examples_are_read_through_libyaml_with_the_same_result(path: Path) -> None:
    text = path.read_text()
    assert yamlpos._LENIENT_IN_C.search(text) is None
    through_c = outcome(lambda: yamlpos._parse_with(yamlpos._EventsInC, text))
    assert through_c[0] == "read"  # no fallback: libyaml read it
    assert through_c == in_python(text) == outcome(lambda: parse(text))


def test_a_large_file_is_read_through_libyaml_with_every_position() -> None:
    text = agents_file(200)
    through_c = outcome(lambda: yamlpos._parse_with(yamlpos._EventsInC, text))
    assert through_c[0] == "read"
    assert through_c == in_python(text)
    assert through_c[2].values[("agents", 199, "config", "port")] == yamlpos.Mark(1000, 20)
    assert through_c[4][("agents", 3, "config", "ratio")] == "1.10"


@pytest.mark.parametrize("text", [
    "a:\t1\n",                        # a tab libyaml takes, PyYAML refuses
    "a: >#c\n",                       # a comment libyaml takes, PyYAML refuses
    "a: b: c\n",                      # the messages differ between the two
    "- !\n",                          # an empty tagged value: '' in libyaml, None here
    "a:\n",                           # an empty value, marked elsewhere by libyaml
    "[1: \n]\n",
    "? x\n",
    "---\n",
    "a: 1\n---\nb: 2\n",
    "\ufeffa: 1\n",
    "a: \x85b\n",
    "a: [1, 2\n",
    "",
])
def test_what_libyaml_reads_otherwise_has_the_python_loaders_outcome(text: str) -> None:
    assert outcome(lambda: parse(text)) == in_python(text)


TOKENS = ["a", "b", ": ", ":", "- ", "-", "\n", "  ", " ", "[", "]", "{", "}", ", ", "'x'",
          '"y"', "1", "1.5", "~", "null", "&a ", "*a", "<<: ", "? ", "!", "!!str ", "#c",
          " #c", "|", ">", "---", "...", "e3", "\r\n", "'", '"', "é", "\n  - ", "\n    ",
          "|\n  text\n", ">-\n  t\n", '"a\\nb"', "'it''s'", "key: value\n", "0x1F", "1_000",
          "+1", ".inf", "yes", "2024-01-01", "0o17", "1e3", "\ufeff", "\t"]


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(TOKENS), min_size=1, max_size=16))
def test_random_documents_read_the_same_either_way(tokens: list[str]) -> None:
    text = "".join(tokens)
    assert outcome(lambda: parse(text)) == in_python(text)


def test_a_deeply_nested_document_is_an_error_not_a_crash(tmp_path: Path) -> None:
    # libyaml's own composer recurses in C and would overflow the stack here; the
    # Python composer raises RecursionError, which is reported. A process of its own,
    # so that a crash fails this test instead of the run.
    script = (
        "from agentsup.job.yamlpos import parse, YamlSyntaxError\n"
        "try:\n"
        "    parse('a: ' + '[' * 200000 + ']' * 200000 + '\\n')\n"
        "except YamlSyntaxError as exc:\n"
        "    print(exc.message)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "the document is nested too deeply"
