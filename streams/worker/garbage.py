"""Python's cyclic garbage collector, tuned for the worker.

Measured on the bench (envelope500, 3M events): with CPython's default thresholds (700, 10, 10)
the worker ran a full collection every ~2 s, each ~115 ms over ~210k tracked objects (faust's,
aiokafka's and ours) with the GIL held, so every thread stood still: 1.4 s of GC in a 20 s run.
With these thresholds young cycles are still collected within 50,000 allocations, and full
collections become rare. Alternating runs: 185k -> 206k events/s (three each); peak RSS the same
(~0.8 GB either way, most of it faust's buffer of messages read ahead).
"""

from __future__ import annotations

import gc

THRESHOLDS = (50_000, 20, 100)


def collect_less_often() -> None:
    gc.set_threshold(*THRESHOLDS)
