"""The cyclic garbage collector's settings for the long-running processes (`guetteur up` and
its workers).

Both hold many young, acyclic containers: a worker the events of a batch, the main process
the records in the buffer (up to `pipeline.buffer_size` `RawRecord`s, each tracked by the
collector). With the default thresholds, a collection runs every 700 allocations and the
older generations are scanned again and again, with the modules, rule tables and the app
that were built at start: in the main process that was a quarter of its CPU at full ingest
(py-spy, bench/ingest.py: 15.3 -> 10.7-12.4 µs per event). Reference counting frees almost
everything; the collector only has cycles to find, which are rare here, so it can run much
less often. `gc.freeze()` moves what exists now (imports, settings, the app) out of every
future scan; call it once the process is built.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 50_000  # allocations between two collections of the youngest generation


def settle_collector() -> None:
    """Freeze what the process built so far and collect cycles less often."""
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, 20, 20)
