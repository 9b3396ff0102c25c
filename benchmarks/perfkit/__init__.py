"""Pieces of ``benchmarks/perf.py``: one module per concern (machine state, FLOPs, each section, the report)."""
