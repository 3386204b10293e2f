"""Benchmark metrics and result I/O shared by the CLI and the toolkit adapters."""
