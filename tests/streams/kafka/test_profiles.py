"""Profile messages: a corrupted one is rejected with the model key named, the model keeps its
previous profile."""

import logging

import numpy as np

from detectors import build_profile
from schemas import ProfileMessage
from streams.kafka.profiles import ProfileStore
from streams.settings import Settings


def _message(model: str, mutate=lambda d: None) -> bytes:
    rng = np.random.default_rng(3)
    profile = build_profile({"x": list(rng.normal(size=500)), "c": list(rng.choice(["a", "b"], 500))}).to_dict()
    mutate(profile)
    text = ProfileMessage(model_id=model, created_at="2026-01-01T00:00:00Z", profile=profile).model_dump_json()
    return text.replace("123456.789", "NaN").encode()  # JSON has no NaN; producers in the wild write it anyway


def _nan(path):
    def mutate(profile):
        target = profile["features"]
        for key in path[:-1]:
            target = target[key]
        target[path[-1]][0] = 123456.789  # becomes the NaN token
    return mutate


def test_bad_profiles_are_rejected_naming_the_key_and_the_previous_one_stays(caplog):
    store = ProfileStore(Settings(_env_file=None))
    store.apply_message("fraud", _message("fraud"), "test@0")
    good = store.get("fraud")
    assert good is not None
    bad = [b"not json", b'{"schema_version": 1, "model_id": "fraud"}', _message("fraud", _nan(["x", "shares"])),
           _message("fraud", _nan(["x", "edges"])), _message("fraud", _nan(["c", "shares"])),
           _message("fraud", _nan(["x", "grid", "edges"]))]
    with caplog.at_level(logging.ERROR, logger="driftline.profiles"):
        for i, value in enumerate(bad):
            store.apply_message("fraud", value, f"test@{i + 1}")
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == len(bad)
    assert all("model key 'fraud'" in e and "keeps its previous profile" in e for e in errors)
    assert any("finite" in e for e in errors)
    assert store.get("fraud") is good
