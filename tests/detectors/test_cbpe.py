"""CBPE: the calibrator equals scikit-learn's isotonic regression, the estimates track realised
performance on calibrated data, and merged window states equal one state holding all scores."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

from detectors.cbpe import Calibrator, EstimatedPerformance
from detectors.errors import DetectorError


def _calibrated(rng, n, shift=0.0):
    """Scores whose true P(y=1 | score) is the score itself (a calibrated classifier)."""
    scores = np.clip(rng.beta(2, 2, n) + shift, 0, 1)
    return scores, (rng.random(n) < scores).astype(int)


def test_the_calibrator_is_isotonic_regression() -> None:
    rng = np.random.default_rng(1)
    raw = rng.random(5_000)
    labels = (rng.random(5_000) < raw ** 2).astype(int)  # miscalibrated: P(y) = score^2
    raw[:50] = np.round(raw[:50], 2)  # ties
    ours = Calibrator.fit(raw, labels)
    theirs = IsotonicRegression(out_of_bounds="clip", y_min=0, y_max=1).fit(raw, labels)
    probe = np.concatenate([rng.random(2_000), [-1.0, 2.0], raw[:100]])
    np.testing.assert_allclose(ours(probe), theirs.predict(probe), atol=1e-12)
    assert Calibrator.from_dict(ours.to_dict()) == ours
    with pytest.raises(DetectorError):
        Calibrator.fit(np.array([0.1, np.nan]), np.array([0, 1]))
    with pytest.raises(DetectorError):
        Calibrator.fit(np.array([0.1, 0.2]), np.array([0, 2]))


def test_estimates_track_realised_performance_on_calibrated_scores(figures) -> None:
    rng = np.random.default_rng(2)
    ref_scores, ref_labels = _calibrated(rng, 20_000)
    calibrator = Calibrator.fit(ref_scores, ref_labels)
    gaps = []
    for shift in (0.0, 0.1, -0.15):  # covariate shift of the scores, P(y | score) unchanged
        scores, labels = _calibrated(rng, 5_000, shift)
        est = EstimatedPerformance(calibrator)
        est.update(scores)
        predicted = (scores >= 0.5).astype(int)
        realised = {"accuracy": accuracy_score(labels, predicted), "f1": f1_score(labels, predicted),
                    "auc": roc_auc_score(labels, scores)}
        for metric, value in realised.items():
            gaps.append(abs(getattr(est, metric) - value))
    figures(f"CBPE on calibrated scores under covariate shift (5,000-event windows): largest |estimated - "
            f"realised| over accuracy, F1 and AUC = {max(gaps):.4f}")
    assert max(gaps) < 0.03


def test_merged_states_equal_one_state_with_every_score() -> None:
    rng = np.random.default_rng(3)
    calibrator = Calibrator.fit(*_calibrated(rng, 5_000))
    scores = _calibrated(rng, 3_000)[0]
    whole = EstimatedPerformance(calibrator)
    whole.update(scores)
    parts = []
    for chunk in np.array_split(scores, 3):
        part = EstimatedPerformance(calibrator)
        part.update(chunk)
        parts.append(EstimatedPerformance.from_state(part.to_state(), calibrator))
    merged = parts[0].merge(parts[1]).merge(parts[2])
    for key, value in whole.snapshot().items():
        assert merged.snapshot()[key] == pytest.approx(value, rel=1e-12), key
    with pytest.raises(DetectorError):
        whole.merge(EstimatedPerformance(calibrator, threshold=0.4))
