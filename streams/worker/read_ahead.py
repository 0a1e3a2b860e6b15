"""Decode the next messages while the current one is applied, keeping partition order.

The native batch decoder releases the GIL, so a batch decoded in a thread costs the event loop
nothing while it applies the previous batch to its windows (the second core does the parsing).
Messages are applied strictly in arrival order. Small messages (one event) skip the thread and,
when nothing is queued, the queue too: a thread hop would cost more than their decoding.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Generic, TypeVar

Item = TypeVar("Item")
Decoded = TypeVar("Decoded")

DEFAULT_DEPTH = 4  # messages decoded ahead of the one being applied
DEFAULT_THREAD_FROM_BYTES = 16 * 1024


class ReadAhead(Generic[Item, Decoded]):
    """`put(item, raw)` in arrival order; `apply(item, decode(raw), queued)` runs in that order.

    `queued` tells whether the item waited in the queue, i.e. whether put() returned before it was
    applied; `hold(item)` is called before put() returns for such an item (the worker uses it to
    keep faust from acking a message not applied yet). Use as `async with ReadAhead(...) as
    ahead:`; leaving the block applies what is queued.
    """

    def __init__(self, decode: Callable[[bytes | None], Decoded],
                 apply: Callable[[Item, Decoded, bool], Awaitable[Any]], *,
                 hold: Callable[[Item], Any] = lambda item: None, depth: int = DEFAULT_DEPTH,
                 thread_from_bytes: int = DEFAULT_THREAD_FROM_BYTES) -> None:
        self.decode = decode
        self.apply = apply
        self.hold = hold
        self.depth = depth
        self.thread_from_bytes = thread_from_bytes
        self._queue: asyncio.Queue | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._task: asyncio.Task | None = None
        self._busy = False  # the applying task is inside apply()

    async def __aenter__(self) -> "ReadAhead[Item, Decoded]":
        self._queue = asyncio.Queue(maxsize=self.depth)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="driftline-decode")
        self._task = asyncio.create_task(self._apply_in_order(), name="driftline-apply")
        return self

    async def __aexit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None:  # everything put is applied, unless apply() fails on the way
                joined = asyncio.ensure_future(self._queue.join())
                await asyncio.wait({joined, self._task}, return_when=asyncio.FIRST_COMPLETED)
                joined.cancel()
                if self._task.done():
                    self._task.result()
        finally:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._pool.shutdown(wait=False, cancel_futures=True)

    async def put(self, item: Item, raw: bytes | None) -> None:
        if self._task.done():  # apply() raised: surface it here, where the caller is
            self._task.result()
        big = raw is not None and len(raw) >= self.thread_from_bytes
        if not big and self._queue.empty() and not self._busy:
            await self.apply(item, self.decode(raw), False)  # nothing ahead of it: no hop at all
            return
        self.hold(item)
        loop = asyncio.get_running_loop()
        if big:
            decoded = loop.run_in_executor(self._pool, self.decode, raw)
        else:
            decoded = loop.create_future()
            decoded.set_result(self.decode(raw))
        if self._queue.full():  # wait for room, or for the applying task to die (never hang on it)
            room = asyncio.ensure_future(self._queue.put((item, decoded)))
            await asyncio.wait({room, self._task}, return_when=asyncio.FIRST_COMPLETED)
            if not room.done():
                room.cancel()
                self._task.result()  # raises what killed it
                raise RuntimeError("the apply task stopped")
        else:
            self._queue.put_nowait((item, decoded))

    async def _apply_in_order(self) -> None:
        while True:
            item, decoded = await self._queue.get()
            self._busy = True
            try:
                await self.apply(item, await decoded, True)
            finally:
                self._busy = False
                self._queue.task_done()
