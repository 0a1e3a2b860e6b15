"""glibc's malloc told to keep memory it has, so that other threads' page faults do not wait.

By default glibc hands freed memory back to the kernel as soon as 128 KB lie free at the top of
a heap, and serves blocks above a (moving) threshold with mmap/munmap. The Monitor's background
thread and librdkafka allocate and free an envelope of ~150 KB many times a second, so the heaps
shrink and grow all the time; each change takes the process's memory-map lock, and a service
thread that page-faults meanwhile (log() touching a fresh page) waits for it. Measured in
tests/driftline/test_outage.py during a broker outage: log() p99 160 µs and calls of 1-2 ms that
waited in the kernel; with the settings below p99 11 µs and no such call.

The settings are process-wide: up to TRIM_THRESHOLD bytes free at a heap's top stay with the
process (RSS does not shrink below that), blocks below MMAP_THRESHOLD come from the heaps. They
are applied once, on glibc only, and not where the service set MALLOC_* variables itself;
`Monitor(..., tune_allocator=False)` leaves malloc alone.
"""

from __future__ import annotations

import ctypes
import os
import platform
import threading

M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD = -1, -2, -3  # glibc's malloc.h
TRIM_THRESHOLD = 64 * 1024 * 1024
TOP_PAD = 16 * 1024 * 1024
MMAP_THRESHOLD = 4 * 1024 * 1024
_OWN_SETTINGS = ("MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_", "MALLOC_MMAP_THRESHOLD_", "GLIBC_TUNABLES")

_lock = threading.Lock()
_applied: bool | None = None  # None: not tried yet


def keep_memory() -> bool:
    """Applies the settings (once per process); whether they are in effect."""
    global _applied
    with _lock:
        if _applied is None:
            _applied = _apply()
        return _applied


def _apply() -> bool:
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    if any(name in os.environ for name in _OWN_SETTINGS):  # the service tuned malloc itself
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return all(mallopt(option, value) == 1 for option, value in
               ((M_MMAP_THRESHOLD, MMAP_THRESHOLD), (M_TRIM_THRESHOLD, TRIM_THRESHOLD), (M_TOP_PAD, TOP_PAD)))
