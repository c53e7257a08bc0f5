"""Wiring between sources, parser workers and the store: bounded buffer, batches, backpressure."""
