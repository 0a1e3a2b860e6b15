import msgspec
import numpy as np
import pytest

from schemas.columnar import NATIVE, decode_columns

from schemas.fast_path import WireEvent
from streams.core.columns import prediction_score
from streams.core.online import OnlineWatch


def _events(scores, model="m"):
    return [WireEvent(event_id=str(i), model_id=model, timestamp=i, features={}, prediction=float(s), latency_ms=5.0)
            for i, s in enumerate(scores)]


def test_a_change_in_the_prediction_score_is_reported_at_its_event_once():
    rng = np.random.default_rng(5)
    scores = np.concatenate([rng.normal(0.2, 0.05, 3000), rng.normal(0.6, 0.05, 3000)])
    events = _events(scores)
    watch = OnlineWatch()
    found = []
    for i in range(0, len(events), 250):  # batches of any size give the same result
        found += watch.observe(events[i:i + 250])
    assert [(d.stream, d.event_id) for d in found] == [("prediction", found[0].event_id)]
    assert 3000 <= int(found[0].event_id) < 3100
    one_by_one = OnlineWatch()
    again = [d for e in events for d in one_by_one.observe([e])]
    assert [d.event_id for d in again] == [d.event_id for d in found]


@pytest.mark.skipif(not NATIVE, reason="the native batch decoder was not built")
def test_column_wise_batches_give_the_same_detections_as_events():
    rng = np.random.default_rng(5)
    scores = np.concatenate([rng.normal(0.2, 0.05, 3000), rng.normal(0.6, 0.05, 3000)])
    events = _events(scores)
    rows, columns = OnlineWatch(), OnlineWatch()
    found_rows, found_columns = [], []
    for i in range(0, len(events), 500):
        chunk = events[i:i + 500]
        found_rows += rows.observe(chunk)
        batch = decode_columns(msgspec.json.encode({"events": chunk}))
        assert batch is not None
        found_columns += columns.observe(batch)
    assert found_columns == found_rows and len(found_rows) == 1


def test_stationary_streams_stay_quiet_and_models_are_watched_apart():
    rng = np.random.default_rng(6)
    watch = OnlineWatch()
    mixed = [e for pair in zip(_events(rng.uniform(0, 1, 5000), "a"), _events(rng.uniform(0, 1, 5000), "b"))
             for e in pair]
    assert watch.observe(mixed) == []


def test_prediction_scores():
    assert prediction_score(0.3) == 0.3 and prediction_score(True) == 1.0
    assert prediction_score({"yes": 0.7, "no": 0.3}) == 0.7
    assert np.isnan(prediction_score("cat"))


def test_models_that_stopped_sending_are_forgotten_after_the_horizon():
    from streams.core import online

    watch = OnlineWatch()
    day = online.IDLE_HORIZON_MS
    watch.observe([WireEvent(event_id="a", model_id="gone", timestamp=0, features={}, prediction=0.5)])
    for i in range(online._SWEEP_EVERY):
        watch.observe([WireEvent(event_id=str(i), model_id="busy", timestamp=day + 1 + i, features={},
                                 prediction=0.5)])
    assert watch.models == 1
