"""Benchmarks for the streaming chat: `python -m bench --help`, and bench/README.md."""
