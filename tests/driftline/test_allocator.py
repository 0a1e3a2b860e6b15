"""allocator.py: glibc keeps the memory it has once a Monitor is made (each case in a process
of its own, as the settings are process-wide)."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's malloc only")

# Reports, through glibc's mallinfo2(), how a Monitor-sized churn is served: whether a 1 MB
# block (an envelope and librdkafka's copy are ~150 KB) is mapped on its own, and how much of
# 8 MB just freed at a heap's top the process keeps rather than gives back to the kernel.
CHURN = """
import ctypes, sys
from driftline.allocator import keep_memory
class Info(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]
libc = ctypes.CDLL(None)
libc.mallinfo2.restype = Info
libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
applied = keep_memory() if sys.argv[1] == "tuned" else None
maps = libc.mallinfo2().hblks
block = libc.malloc(1 << 20)
mapped = libc.mallinfo2().hblks - maps
libc.free(block)
blocks = [libc.malloc(1 << 20) for _ in range(8)]
for b in reversed(blocks):
    libc.free(b)
print(applied, mapped, libc.mallinfo2().keepcost)
"""


def _churn(mode: str, **env: str) -> tuple[str, int, int]:
    out = subprocess.run([sys.executable, "-c", CHURN, mode], capture_output=True, text=True, check=True,
                         env={**os.environ, **env}).stdout.split()
    return out[0], int(out[1]), int(out[2])


def test_freed_blocks_stay_with_the_process_instead_of_going_back_to_the_kernel():
    applied, mapped, kept = _churn("tuned")
    assert (applied, mapped) == ("True", 0) and kept >= 8 << 20, (applied, mapped, kept)
    _, mapped, kept = _churn("default")  # glibc's own: mapped on its own, the heap's top given back
    assert mapped == 1 and kept < 1 << 20, (mapped, kept)


def test_a_service_that_tuned_malloc_itself_is_left_alone():
    assert _churn("tuned", MALLOC_TRIM_THRESHOLD_="131072")[0] == "False"


def test_a_monitor_can_leave_malloc_alone():
    code = ("from driftline import Monitor, allocator; from tests.driftline.fakes import FakeProducer;"
            "Monitor('m', producer_factory=FakeProducer(), tune_allocator=False).close();"
            "print(allocator._applied)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["None"]
