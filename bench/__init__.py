"""Benchmarks for agentsup: `python -m bench [--quick]` prints the table (docs/performance.md)."""
