import gc
import weakref

from streams.worker.garbage import THRESHOLDS, collect_less_often


class _Node:
    def __init__(self):
        self.me = self  # a reference cycle: only the cyclic collector frees it


def test_cycles_are_still_collected_with_the_worker_thresholds():
    before = gc.get_threshold()
    try:
        collect_less_often()
        assert gc.get_threshold() == THRESHOLDS
        first = _Node()
        alive = weakref.ref(first)
        del first
        for _ in range(THRESHOLDS[0] * 2):  # enough allocations of tracked objects for a young collection
            _Node()
        assert alive() is None
    finally:
        gc.set_threshold(*before)
