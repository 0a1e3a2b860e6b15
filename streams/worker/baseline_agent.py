"""A bare faust agent that only decodes each message with orjson (any of the three wire forms): the floor for any faust worker,
and the baseline (b) of `make bench` (it lives in streams/, the one package that imports faust).

Run as a subprocess by the benchmark:
    python -m streams.worker.baseline_agent BOOTSTRAP TOPIC APP_ID DATADIR EXPECT_MESSAGES RESULT_FILE
It appends JSON lines to RESULT_FILE: {"first": t} at the first message, {"progress": events}
about every second, and {"done": t, "events": n, "messages": m} once EXPECT_MESSAGES were
processed (t: epoch seconds). Then it idles until the benchmark stops it.
"""

from __future__ import annotations

import sys
import time

import faust
import orjson

from streams.kafka.topics import FETCH_BYTES_PER_PARTITION


def events_in(message: object) -> int:
    """How many events a decoded message holds: a batch's, an envelope's (its event_id column) or 1."""
    if isinstance(message, dict):
        if isinstance(batch := message.get("events"), list):
            return len(batch)
        if isinstance(columns := message.get("columns"), dict) and isinstance(ids := columns.get("event_id"), list):
            return len(ids)
    return 1


def main(bootstrap: str, topic_name: str, app_id: str, datadir: str, expect: int, result: str) -> None:
    app = faust.App(
        app_id,
        broker=f"kafka://{bootstrap}",
        datadir=datadir,
        web_enabled=False,
        key_serializer="raw",
        value_serializer="raw",
        consumer_auto_offset_reset="earliest",
        topic_allow_declare=False,
        topic_disable_leader=True,
        stream_wait_empty=False,
        consumer_max_fetch_size=FETCH_BYTES_PER_PARTITION,
    )
    topic = app.topic(topic_name, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")
    out = open(result, "ab", buffering=0)

    def write(record: dict) -> None:
        out.write(orjson.dumps(record) + b"\n")

    @app.agent(topic, name="bench.decode")
    async def decode(stream):
        messages = events = 0
        next_report = 0.0
        loads = orjson.loads
        async for value in stream:
            if messages == 0:
                write({"first": time.time()})
            events += events_in(loads(value))
            messages += 1
            if messages == expect:
                write({"done": time.time(), "events": events, "messages": messages})
            elif messages < expect and time.monotonic() >= next_report:
                next_report = time.monotonic() + 1.0
                write({"progress": events})

    faust.Worker(app, loglevel="warning", quiet=True, redirect_stdouts=False).execute_from_commandline()


if __name__ == "__main__":
    b, t, a, d, n, r = sys.argv[1:7]
    main(b, t, a, d, int(n), r)
