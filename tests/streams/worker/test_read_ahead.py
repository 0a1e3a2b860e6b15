import asyncio

import pytest

from streams.worker.read_ahead import ReadAhead


def _run(coro):
    return asyncio.run(coro)


def test_messages_are_applied_in_arrival_order_whatever_their_size():
    applied = []

    def decode(raw):
        return raw.decode()[:3]

    async def apply(item, decoded, queued):
        await asyncio.sleep(0.001 if item % 3 == 0 else 0)  # a slow apply lets the queue fill up
        applied.append((item, decoded))

    async def main():
        async with ReadAhead(decode, apply, depth=3, thread_from_bytes=100) as ahead:
            for i in range(60):
                raw = (f"{i:03d}" + ("x" * 200 if i % 4 == 0 else "")).encode()  # every 4th in the thread
                await ahead.put(i, raw)

    _run(main())
    assert applied == [(i, f"{i:03d}") for i in range(60)]


def test_small_messages_with_nothing_queued_are_applied_at_once():
    applied = []

    held = []

    async def apply(item, decoded, queued):
        applied.append((item, queued))

    async def main():
        async with ReadAhead(len, apply, hold=held.append, thread_from_bytes=100) as ahead:
            await ahead.put("a", b"1")
            assert applied == [("a", False)] and held == []  # applied inside put(): no thread, no queue
            await ahead.put("b", b"2" * 500)
            assert held == ["b"]  # held before put() returned
        assert applied == [("a", False), ("b", True)]  # leaving the block applies what was queued

    _run(main())


def test_an_error_in_apply_reaches_the_caller():
    async def apply(item, decoded, queued):
        raise RuntimeError(f"cannot apply {item}")

    async def main():
        async with ReadAhead(len, apply, thread_from_bytes=1) as ahead:
            await ahead.put(1, b"xx")
            await asyncio.sleep(0.05)
            await ahead.put(2, b"xx")

    with pytest.raises(RuntimeError, match="cannot apply 1"):
        _run(main())


def test_an_error_in_apply_while_draining_is_raised_not_hung():
    async def apply(item, decoded, queued):
        await asyncio.sleep(0.01)
        raise RuntimeError("late failure")

    async def main():
        async with ReadAhead(len, apply, thread_from_bytes=1) as ahead:
            await ahead.put(1, b"xx")
            await ahead.put(2, b"xx")

    with pytest.raises(RuntimeError, match="late failure"):
        asyncio.run(asyncio.wait_for(main(), 5))


def test_a_put_waiting_on_a_full_queue_raises_when_the_apply_task_dies():
    """The hang seen in the field: the apply task died while put() waited for room."""
    release = None

    async def apply(item, decoded, queued):
        await release.wait()
        raise ValueError(f"cannot apply {item}")

    async def main():
        nonlocal release
        release = asyncio.Event()
        ahead = ReadAhead(lambda raw: raw, apply, depth=2, thread_from_bytes=1)  # all through the queue
        await ahead.__aenter__()
        try:
            for i in range(3):  # 0 is taken by the task, which blocks in apply(); 1 and 2 fill the queue
                await ahead.put(i, b"x")
                await asyncio.sleep(0.01)
            waiting = asyncio.ensure_future(ahead.put(3, b"x"))
            await asyncio.sleep(0.05)
            assert not waiting.done()  # waits for room
            release.set()  # the task dies on item 0
            with pytest.raises(ValueError, match="cannot apply 0"):
                await asyncio.wait_for(waiting, 2)
        finally:
            release.set()
            await ahead.__aexit__(ValueError, None, None)

    _run(main())
