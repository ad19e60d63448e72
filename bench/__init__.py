"""Benchmark of the case API against a bare Django view: see bench/README.md."""
