"""Benchmarks: ``python -m bench.ingest`` measures durable ingest throughput."""
