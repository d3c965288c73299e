"""Benchmarks that print figures; run with `make bench` (not part of `make test`)."""
