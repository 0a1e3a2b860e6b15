"""Everything a step produced is on Kafka before faust acknowledges the step's message.

faust's `Producer.flush()` drains its buffer (where table changelog writes wait, `send_soon`) by
waiting for one send at a time, and returns as soon as one wait exceeds 0.1 s
(`ProducerBuffer.flush_atmost`): on a busy event loop it returns with changelog records still
buffered, faust acks the message, commits past it, and a kill -9 then loses what the table said
about it. So the buffer is drained until it is empty, then the client flushed.
"""

from __future__ import annotations


async def deliver_everything(producer) -> None:
    buffer = producer.buffer
    while buffer.size:
        await buffer.flush()
    await producer.flush()
