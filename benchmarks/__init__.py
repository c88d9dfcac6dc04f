"""Benchmarks for bulkdel against the fake ImageKit server: ``python -m benchmarks --help``."""
