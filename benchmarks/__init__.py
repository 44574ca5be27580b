"""IOPDesk performance benchmarks over a large synthetic clinic (see docs/performance.md)."""
