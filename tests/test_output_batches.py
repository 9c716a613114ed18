"""Agent output a read at a time: the same lines, in the same order, as line by line.

The local hub hands all the lines of one pipe read through the `agentsup logs` ring, the
log files and the event log in one call, and the event log renders them as one blob.
These tests hold the batch path to what one line at a time produced: the splitter against
a line-by-line reference, the rendered events against `_fast_json` of each line, and a
real agent through the real CLI with a JSON line inside a burst, a line left open at the
end of a read and a long line cut across reads.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import queue
import random
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from clirun import TEST_AGENT, agentsup_command, free_ports, supervisor, write_job_document

from agentsup.control.logring import Line as RingLine
from agentsup.control.logring import LogRing
from agentsup.linewriter import LineWriter
from agentsup.logfiles import LogFiles, RotatingFile
from agentsup.logs import EventLog, _fast_json, parse_payload
from agentsup.runners.base import BatchOutput, deliver
from agentsup.runners.lines import Line, LineBatch, LineSplitter, cut_point

# ---------------------------------------------------------------- splitting


def reference_lines(data: bytes, limit: int) -> list[Line]:
    """What splitting the whole output at once, line by line, gives."""
    *whole, last = data.split(b"\n")
    raw = [line[:-1] if line.endswith(b"\r") else line for line in whole]
    if last.endswith(b"\r"):
        last = last[:-1]
    if last:
        raw.append(last)
    out: list[Line] = []
    for line in raw:
        part = 0
        while len(line) > limit:
            cut = cut_point(line, limit)
            part += 1
            out.append(Line(line[:cut].decode("utf-8", "replace"), part, True))
            line = line[cut:]
        text = line.decode("utf-8", "replace")
        out.append(Line(text, part + 1, False) if part else Line(text))
    return out


ALPHABET = [b"a", b"\n", b"\r", b"\r\n", "é".encode(), "€".encode(), "😀".encode(),
            b"\xe2", b"\x82", b"\xff", b"{", b'"', b"\t", b"x" * 7]


@pytest.mark.parametrize("seed", range(4))
def test_batches_hold_the_lines_of_line_by_line_splitting_however_the_reads_fall(
    seed: int,
) -> None:
    rnd = random.Random(seed)
    for _ in range(2000):
        limit = rnd.choice([4, 5, 8, 16, 64])
        data = b"".join(rnd.choice(ALPHABET) for _ in range(rnd.randint(0, 60)))
        cuts = sorted(rnd.sample(range(len(data) + 1), min(len(data) + 1, rnd.randint(0, 6))))
        splitter = LineSplitter(limit)
        got: list[Line] = []
        for start, end in zip([0, *cuts], [*cuts, len(data)], strict=True):
            got += splitter.feed_batch(data[start:end])
        got += splitter.finish_batch()
        assert got == reference_lines(data, limit), (limit, data, cuts)


def test_a_line_open_at_the_end_of_a_read_waits_for_the_next() -> None:
    splitter = LineSplitter()
    first = splitter.feed_batch(b"one\ntwo\nthr")
    assert (first.texts, first.pieces) == (["one", "two"], {})
    assert splitter.feed_batch(b"ee\r\nfour\n").texts == ["three", "four"]
    assert list(splitter.finish_batch()) == []


def test_a_long_line_cut_across_reads_comes_in_numbered_pieces() -> None:
    splitter = LineSplitter(limit=8)
    batches = [splitter.feed_batch(b"short\n0123456789"),
               splitter.feed_batch(b"abcdefghij\nafter\n")]
    lines = [line for batch in batches for line in batch]
    assert lines == [Line("short"), Line("01234567", 1, True), Line("89abcdef", 2, True),
                     Line("ghij", 3, False), Line("after")]
    assert batches[1].pieces == {0: (2, True), 1: (3, False)}


# ---------------------------------------------------------------- the event log


class Collect:
    """Stands for the stdout writer: keeps what the event log hands over."""

    def __init__(self) -> None:
        self.data = b""
        self.calls = 0

    def output_lines(self, parts: list[bytes], count: int) -> None:
        blob = b"".join(parts)
        assert blob.count(b"\n") == count
        self.data += blob
        self.calls += 1


def one_by_one(base: dict[str, Any], texts: list[str],
               pieces: dict[int, tuple[int, bool]]) -> bytes:
    """The events of each line as the event log renders a single line."""
    out = b""
    for index, text in enumerate(texts):
        if index in pieces:
            part, continued = pieces[index]
            out += _fast_json({**base, "line": text, "part": part, "continued": continued})
        else:
            payload = parse_payload(text)
            rendered = None
            if payload is not None:
                with contextlib.suppress(ValueError, RecursionError):
                    rendered = _fast_json({**base, "payload": payload})
            out += rendered if rendered is not None else _fast_json({**base, "line": text})
        out += b"\n"
    return out


def batch_log() -> tuple[EventLog, Collect]:
    log = EventLog("jöb", stream=io.StringIO())
    collect = Collect()
    log._writer = collect
    return log, collect


TEXTS = ["plain", 'say "hi"\tthere', "é € 😀", "", '{"kind": "json", "n": 1}',
         '{"x": NaN}', "[1, 2]", '{"deep": ' * 300 + "1" + "}" * 300,
         '{"deeper": ' * 5000 + "1" + "}" * 5000, "{not json}",
         "null", "\x00\x1f\x7f", "\u2028", "lone \ud800 surrogate", "back\\slash"]


def test_a_batch_renders_each_line_as_the_single_line_path_does() -> None:
    rnd = random.Random(7)
    for _ in range(3000):
        texts = [rnd.choice(TEXTS) for _ in range(rnd.randint(1, 9))]
        pieces = {i: (rnd.randint(1, 3), rnd.random() < 0.5)
                  for i in range(len(texts)) if rnd.random() < 0.1}
        log, collect = batch_log()
        log.output_lines("ag", "stderr", LineBatch(list(texts), dict(pieces)))
        first = json.loads(collect.data.split(b"\n", 1)[0])
        base = {"timestamp": first["timestamp"], "level": "info", "event": "agent.output",
                "job": "jöb", "agent": "ag", "elapsed": first["elapsed"], "stream": "stderr"}
        assert collect.data == one_by_one(base, texts, pieces)
        assert collect.calls == 1  # the whole batch in one hand-over


def test_every_line_of_a_batch_is_strict_json_and_json_objects_become_payload() -> None:
    log, collect = batch_log()
    log.output_lines("ag", "stdout", LineBatch(list(TEXTS)))

    def refuse(name: str) -> None:
        raise ValueError(name)

    events = [json.loads(line, parse_constant=refuse)
              for line in collect.data.decode("utf-8").split("\n")[:-1]]
    assert len(events) == len(TEXTS)
    # Objects strict JSON can carry go under `payload`; NaN and nesting too deep for the
    # parser stay text, as do lines that are not objects; a lone surrogate (which no UTF-8
    # holds) is written as "?".
    payloads = {4, 7}
    assert events[4]["payload"] == {"kind": "json", "n": 1}
    assert [i for i, e in enumerate(events) if "payload" in e] == sorted(payloads)
    assert [e["line"] for i, e in enumerate(events) if i not in payloads] == [
        t.replace("\ud800", "?") for i, t in enumerate(TEXTS) if i not in payloads
    ]


def test_a_batch_below_the_level_is_not_rendered_but_reaches_the_sinks() -> None:
    seen: list[list[str]] = []
    log = EventLog("j", stream=io.StringIO(), level="warning")
    collect = Collect()
    log._writer = collect
    log.add_output_sink(lambda _agent, _stream, batch: seen.append(list(batch.texts)))
    log.output_lines("a", "stdout", LineBatch(["x", "y"]))
    assert collect.calls == 0 and seen == [["x", "y"]]


def test_the_console_format_still_gets_a_line_each() -> None:
    out = io.StringIO()
    log = EventLog("j", stream=out, fmt="console")
    log.output_lines("a", "stdout", LineBatch(["first", '{"k": 1}', "third"], {2: (1, True)}))
    text = out.getvalue()
    assert text.index("first") < text.index("k") < text.index("third")
    assert len(text.splitlines()) == 3


# ---------------------------------------------------------------- callbacks, ring, files


def test_a_batch_output_takes_single_lines_and_plain_callbacks_take_batches() -> None:
    got: list[tuple[str, list[Line]]] = []
    batched = BatchOutput(lambda stream, batch: got.append((stream, list(batch))))
    batched("stdout", "one")
    batched("stderr", "piece", 2, True)
    assert got == [("stdout", [Line("one")]), ("stderr", [Line("piece", 2, True)])]
    single: list[tuple[str, str, int | None, bool]] = []
    deliver(lambda stream, line, part=None, continued=False:
            single.append((stream, line, part, continued)),
            "stdout", LineBatch(["a", "b"], {1: (1, True)}))
    assert single == [("stdout", "a", None, False), ("stdout", "b", 1, True)]


def test_the_ring_keeps_the_last_lines_of_a_long_batch_and_a_follower_gets_all() -> None:
    ring = LogRing(keep=3)
    ring.add("b", "stdout", "before")
    _, follower = ring.tail_and_follow(["a"], 0)
    ring.add_lines("a", "stdout", [f"a{i}" for i in range(10)])
    ring.add_lines("b", "stderr", ["b-late"])
    followed = [entry.line for entry in follower.take(0) if isinstance(entry, RingLine)]
    assert followed == [f"a{i}" for i in range(10)] and follower.take(0) == []
    follower.close()
    ring.add_lines("a", "stdout", [f"c{i}" for i in range(5)])
    assert [entry.line for entry in ring.tail(["a", "b"], 2)] == ["before", "b-late", "c3", "c4"]


def test_the_ring_tails_as_a_list_of_every_line_would() -> None:
    rnd = random.Random(3)
    ring = LogRing(keep=7)
    every: list[tuple[str, str, str]] = []
    for step in range(300):
        agent, stream = rnd.choice("ab"), rnd.choice(["stdout", "stderr"])
        lines = [f"{agent}{step}.{n}" for n in range(rnd.choice([0, 1, 2, 3, 6, 7, 8, 20]))]
        ring.add_lines(agent, stream, lines)
        every += [(agent, stream, line) for line in lines]
        count = rnd.randint(0, 10)
        wanted = rnd.choice([["a"], ["b"], ["a", "b"]])
        expected = [entry for agent_id in wanted
                    for entry in [e for e in every if e[0] == agent_id][-min(count, 7):]
                    if count > 0]
        expected.sort(key=every.index)
        assert [(e.agent, e.stream, e.line) for e in ring.tail(wanted, count)] == expected


def test_log_files_take_a_batch_and_rotate_between_its_lines(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    files = LogFiles({"a": RotatingFile(path, max_size=400, keep=20)})
    for start in range(0, 60, 20):
        files("a", "stdout", LineBatch([f"line {n:03d}" for n in range(start, start + 20)]))
    files.close()
    names = sorted((p for p in tmp_path.iterdir()), key=lambda p: -int(p.suffix[1:])
                   if p.suffix[1:].isdigit() else 0)
    assert all(p.stat().st_size <= 400 for p in names)
    lines = [line for p in names for line in p.read_text().splitlines()]
    assert [line.split(" ", 2)[2] for line in lines] == [f"line {n:03d}" for n in range(60)]
    assert {line.split(" ", 2)[1] for line in lines} == {"stdout"}
    assert len(names) > 2


def test_a_blob_that_overflows_the_backlog_keeps_its_leading_lines_and_counts_the_rest(
) -> None:
    read_end, write_end = os.pipe()
    try:
        stream = os.fdopen(write_end, "w", closefd=False)
        writer = LineWriter(stream, dropped_line=lambda n: f"dropped {n}", backlog_bytes=1000)
        filler = b"".join(b"f%06d\n" % n for n in range(20_000))  # fills the pipe
        writer.output_lines([filler[:50_000], filler[50_000:]], 20_000)
        lines = b"".join(b"line %04d\n" % n for n in range(300))  # 3000 bytes
        writer.output_lines([lines[:1234], lines[1234:]], 300)
        writer.msg("after")
        received: list[str] = []
        reader = threading.Thread(target=lambda: received.extend(read_all(read_end)))
        reader.start()
        assert writer.close(timeout=30)
        os.close(write_end)
        reader.join(30)
    finally:
        with contextlib.suppress(OSError):
            os.close(read_end)
    written = [line for line in received if line.startswith(("f", "line"))]
    dropped = sum(int(line.split()[1]) for line in received if line.startswith("dropped"))
    assert dropped > 0 and len(written) + dropped == 20_300
    assert written == sorted(written) and written == [
        *(f"f{n:06d}" for n in range(20_000)), *(f"line {n:04d}" for n in range(300))
    ][:len(written)]  # a prefix: whole lines kept in order, the rest counted
    assert received.index(next(r for r in received if r.startswith("dropped"))) < \
        received.index("after")


def read_all(fd: int) -> list[str]:
    chunks = []
    while data := os.read(fd, 1 << 16):
        chunks.append(data)
    return b"".join(chunks).decode().splitlines()


# ---------------------------------------------------------------- a real agent


BURST = 5000
SOURCE = f"""\
import os, runpy, socket, sys, threading, time
go = os.environ["GO_FILE"]
out = sys.stdout.buffer

def talk():
    while True:  # after the test agent's own line about listening
        try:
            socket.create_connection(("127.0.0.1", int(os.environ["AGENT_PORT"]))).close()
            break
        except OSError:
            time.sleep(0.02)
    time.sleep(0.5)
    out.write(b"waiting\\n"); out.flush()
    while not os.path.exists(go):
        time.sleep(0.02)
    lines = [b"line %d" % n if n % 7 else b'say "%d"\\t\\xc3\\xa9' % n for n in range({BURST})]
    lines[2500] = b'{{"kind": "json", "n": 2500}}'
    out.write(b"\\n".join(lines) + b"\\n"); out.flush()
    out.write(b"partial-"); out.flush(); time.sleep(0.3)
    out.write(b"end\\n"); out.flush()
    out.write(b"L" * 50000); out.flush(); time.sleep(0.3)
    out.write(b"M" * 50000 + b"\\ndone\\n"); out.flush()

threading.Thread(target=talk, daemon=True).start()
sys.argv = [{str(TEST_AGENT)!r}]
runpy.run_path({str(TEST_AGENT)!r}, run_name="__main__")
"""


def expected_lines() -> list[str]:
    lines = [f"line {n}" if n % 7 else f'say "{n}"\té' for n in range(BURST)]
    lines[2500] = '{"kind": "json", "n": 2500}'
    return ["waiting", *lines, "partial-end", "L" * 50000 + "M" * 15536, "M" * 34464, "done"]


@pytest.mark.integration
@pytest.mark.timeout(90)
def test_a_real_burst_arrives_whole_and_in_order_in_events_logs_and_files(
    tmp_path: Path,
) -> None:
    (port,) = free_ports(1)
    go = tmp_path / "go"
    agent = {"id": "talker", "command": [sys.executable, "-c", SOURCE], "config": {"port": port},
             "deployment": {"environment": {"GO_FILE": str(go)}}}
    job = write_job_document(tmp_path, [agent], {"type": "mesh"}, name="burst",
                             logs={"dir": str(tmp_path / "logs"), "max_size": "96K", "keep": 20})
    with supervisor(job) as run:
        run.wait_for("job.ready")
        run.wait_for("agent.output", where=lambda e: e.get("line") == "waiting")
        follower = subprocess.Popen(agentsup_command("logs", "burst", "talker", "-n", "1", "-f"),
                                    stdout=subprocess.PIPE, text=True, env=dict(os.environ))
        received: queue.Queue[str] = queue.Queue()
        assert follower.stdout is not None
        stream = follower.stdout
        threading.Thread(target=lambda: [received.put(line) for line in stream],
                         daemon=True).start()
        try:
            assert received.get(timeout=30) == "talker | waiting\n"  # following from here
            go.touch()
            run.wait_for("agent.output", where=lambda e: e.get("line") == "done", timeout=60)
            followed = [received.get(timeout=30).rstrip("\n") for _ in range(BURST + 4)]
            run.signal(signal.SIGTERM)
            assert run.wait() == 0
            assert follower.wait(timeout=15) == 0
        finally:
            follower.kill()
            follower.wait()

    output = [e for e in run.named("agent.output") if e["stream"] == "stdout"
              and e.get("payload", {}).get("kind") != "listening"]
    expected = expected_lines()
    texts = [json.dumps(e["payload"]) if "payload" in e else e["line"] for e in output]
    assert texts == expected
    assert output[2501]["payload"] == {"kind": "json", "n": 2500}
    assert [(e.get("part"), e.get("continued")) for e in output[-3:-1]] == [(1, True), (2, False)]
    assert all("part" not in e for e in output[:-3]) and "part" not in output[-1]
    elapsed = [e["elapsed"] for e in output]
    assert elapsed == sorted(elapsed)

    assert followed == [f"talker | {line}" for line in expected[1:]]

    directory = tmp_path / "logs" / "burst"
    files = sorted(directory.iterdir(), key=lambda p: -int(p.suffix[1:])
                   if p.suffix[1:].isdigit() else 0)
    assert len(files) > 1  # it rotated
    logged = [line.split(" ", 2) for p in files for line in p.read_text().splitlines()]
    kept = [(stream, text) for _, stream, text in logged if '"listening"' not in text]
    assert [text for _, text in kept] == expected
    # the over-long line's first piece says it goes on in the next file line
    first_piece = expected.index("L" * 50000 + "M" * 15536)
    assert [stream for stream, _ in kept] == [
        "stdout+" if index == first_piece else "stdout" for index in range(len(expected))
    ]
