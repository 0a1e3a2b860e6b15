"""Stage one's pending predictions: every valid event goes to its join partition, once, with
what the join needs, from batches (columns) and from one-event messages alike."""

from __future__ import annotations

import orjson

from schemas.join import decode_join_message, join_key
from streams.core.decoding import decode_message
from streams.worker.pending_feed import PendingFeed


def _events(n, model="m", label_every=0):
    return [{"event_id": f"e{i}", "model_id": model if i % 3 else "other", "model_version": "1",
             "timestamp": 1_700_000_000_000 + i * 10, "features": {"x": 1.0},
             "prediction": "yes" if label_every and i % label_every == 0 else i / n} for i in range(n)]


def _pending(feed, valid):
    out = {}
    for j, raw in feed.messages(valid):
        message = decode_join_message(raw)
        for i, key in enumerate(message.keys.tolist()):
            assert key % 5 == j
            score = float(message.scores[i])
            out[(message.model_id, key)] = (None if score != score else score,
                                            None if message.classes is None else message.classes[i])
    return out


def test_batches_and_single_events_give_the_same_pending_predictions() -> None:
    feed = PendingFeed(join_topic=None, join_partitions=5, window_ms=60_000)
    events = _events(300, label_every=7)
    batch = decode_message(orjson.dumps({"events": events}))
    assert batch.columns is not None
    from_batch = _pending(feed, batch.valid)
    singles = [v for e in events for v in decode_message(orjson.dumps(e)).valid]
    from_singles = _pending(feed, singles)
    assert from_batch == from_singles and len(from_batch) == 300
    assert from_batch[("other", join_key("other", "e0"))] == (None, "yes")
    assert from_batch[("m", join_key("m", "e1"))] == (1 / 300, None)
