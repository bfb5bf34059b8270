"""Benchmark scripts (run each as `python benchmarks/NAME.py`); importable for the tests that reuse them."""
