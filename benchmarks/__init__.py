"""Benchmark support: presets, timing and memory probes, and the PDD authors' step order as the reference that
SRGANRefModel's step is timed and checked against (`scripts/benchmark.py`, the equality tests)."""
