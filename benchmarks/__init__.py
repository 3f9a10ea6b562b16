"""zafka benchmarks: run ``python -m benchmarks`` (see benchmarks/README.md)."""
