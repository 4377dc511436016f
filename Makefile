# Developer shortcuts. `make bench` times every view over a production-sized lake (30 days x
# ~1M calls, built once under var/bench/ and reused) against DuckDB; see docs/benchmarks.md.
# Extra flags: make bench BENCH_ARGS="--days 3 --per-day 100_000 --repeats 3 --browser"

PYTHON ?= .venv/bin/python
BENCH_ARGS ?=

.PHONY: bench
bench:
	$(PYTHON) -m bench.views $(BENCH_ARGS)
