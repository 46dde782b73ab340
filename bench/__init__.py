"""Benchmarks: each prints its figures and compares variants side by side in one run."""
