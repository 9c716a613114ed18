"""Placeholders for swarm agents' URLs, which are bound only once their tasks run."""

from __future__ import annotations

from agentsup import liveurls


def test_a_placeholder_among_many_ordinary_urls_is_found() -> None:
    ordinary = [f"http://localhost:{8000 + i}" for i in range(199)]
    assert not liveurls.any_placeholder(ordinary)
    assert not liveurls.any_placeholder([])
    for at in (0, 100, 199):
        urls = [*ordinary]
        urls.insert(at, liveurls.placeholder("worker", 9000))
        assert liveurls.any_placeholder(urls)


def test_text_that_only_looks_like_a_placeholder_is_not_one() -> None:
    # The joined search finds the prefix; the exact match must still refuse it.
    assert not liveurls.any_placeholder(["http://{node of worker}:port", "http://a:1"])
    assert not liveurls.any_placeholder(["http://x/", "http://{node of ", "w}:9000"])
    assert liveurls.placeholder_agent(liveurls.placeholder("w-1", 1)) == "w-1"
