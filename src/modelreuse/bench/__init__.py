"""Benchmarks and evaluation harnesses (each prints JSON through the CLI)."""
