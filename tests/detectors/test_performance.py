"""Performance metrics against scikit-learn (within 1e-9) and exact merges."""

from __future__ import annotations

import json
import math
from fractions import Fraction

import numpy as np
import pytest
from scipy.stats import ks_2samp
from sklearn.metrics import (accuracy_score, f1_score, mean_absolute_error, mean_squared_error, precision_score,
                             r2_score, recall_score, roc_auc_score)

from detectors.errors import DetectorError
from detectors.stats.classification import BinaryClassificationMetrics, MulticlassMetrics
from detectors.stats.exact_sum import ExactSum, squares
from detectors.stats.regression import RegressionMetrics


def _binary_cases():
    rng = np.random.default_rng(51)
    for n, decimals in [(10, None), (1_000, None), (5_000, 2), (20_000, 4), (3_000, 1)]:
        labels = (rng.random(n) < 0.3).astype(int)
        scores = 1 / (1 + np.exp(-(rng.normal(size=n) + 1.2 * labels)))
        yield scores, labels, decimals


@pytest.mark.parametrize("case", list(_binary_cases()), ids=lambda c: f"n{len(c[0])}-d{c[2]}")
def test_binary_metrics_equal_sklearn(case) -> None:
    scores, labels, decimals = case
    m = BinaryClassificationMetrics(threshold=0.5, decimals=decimals)
    m.update(scores, labels)
    s = scores if decimals is None else np.round(scores, decimals)
    pred = (s >= 0.5).astype(int)
    assert m.accuracy == pytest.approx(accuracy_score(labels, pred), abs=1e-9)
    assert m.precision == pytest.approx(precision_score(labels, pred, zero_division=0), abs=1e-9)
    assert m.recall == pytest.approx(recall_score(labels, pred, zero_division=0), abs=1e-9)
    assert m.f1 == pytest.approx(f1_score(labels, pred, zero_division=0), abs=1e-9)
    assert m.macro_f1 == pytest.approx(f1_score(labels, pred, average="macro", zero_division=0), abs=1e-9)
    auc = roc_auc_score(labels, s)
    assert m.auc == pytest.approx(auc, abs=1e-9) and m.gini == pytest.approx(2 * auc - 1, abs=1e-9)
    assert m.ks == pytest.approx(ks_2samp(s[labels == 1], s[labels == 0]).statistic, abs=1e-12)


def test_binary_edge_cases_follow_sklearn() -> None:
    m = BinaryClassificationMetrics(threshold=0.9)
    m.update(np.array([0.1, 0.2, 0.2]), np.array([1, 0, 1]))  # nothing predicted positive, tied scores
    assert (m.precision, m.recall, m.f1) == (0.0, 0.0, 0.0)
    assert m.macro_f1 == pytest.approx(f1_score([1, 0, 1], [0, 0, 0], average="macro", zero_division=0))
    assert m.auc == pytest.approx(roc_auc_score([1, 0, 1], [0.1, 0.2, 0.2]))
    one_class = BinaryClassificationMetrics()
    one_class.update(np.array([0.3, 0.7]), np.array([1, 1]))
    assert math.isnan(one_class.auc) and math.isnan(one_class.ks)
    empty = BinaryClassificationMetrics()
    assert math.isnan(empty.accuracy) and empty.count == 0
    for scores, labels in [([0.1], [2]), ([np.nan], [1]), ([0.1, 0.2], [1])]:
        with pytest.raises(DetectorError):
            BinaryClassificationMetrics().update(np.array(scores), np.array(labels))


def test_binary_merge_is_exact_and_state_round_trips() -> None:
    scores, labels, _ = list(_binary_cases())[1]
    scores = np.concatenate([scores, [-0.0, 0.0]])  # signed zeros must land in one row
    labels = np.concatenate([labels, [1, 0]])
    whole = BinaryClassificationMetrics()
    whole.update(scores, labels)
    for parts in range(2, 9):
        pieces = [BinaryClassificationMetrics() for _ in range(parts)]
        for piece, s, y in zip(pieces, np.array_split(scores, parts), np.array_split(labels, parts)):
            piece.update(s, y)
        merged = pieces[0]
        for piece in pieces[1:]:
            merged = merged.merge(piece)
        assert merged.to_state() == whole.to_state()
    again = BinaryClassificationMetrics.from_state(json.loads(json.dumps(whole.to_state())))
    assert again.snapshot() == whole.snapshot()
    with pytest.raises(DetectorError):
        whole.merge(BinaryClassificationMetrics(threshold=0.4))


def test_multiclass_metrics_equal_sklearn() -> None:
    rng = np.random.default_rng(52)
    labels = rng.choice(["cat", "dog", "eel", "fox"], size=3_000, p=[0.5, 0.3, 0.15, 0.05])
    pred = np.where(rng.random(3_000) < 0.7, labels, rng.choice(["cat", "dog", "eel", "gnu"], size=3_000))
    m = MulticlassMetrics()
    m.update(pred, labels)
    assert m.accuracy == pytest.approx(accuracy_score(labels, pred), abs=1e-9)
    assert m.macro_precision == pytest.approx(precision_score(labels, pred, average="macro", zero_division=0), abs=1e-9)
    assert m.macro_recall == pytest.approx(recall_score(labels, pred, average="macro", zero_division=0), abs=1e-9)
    assert m.macro_f1 == pytest.approx(f1_score(labels, pred, average="macro", zero_division=0), abs=1e-9)
    halves = MulticlassMetrics(), MulticlassMetrics()
    halves[0].update(pred[:1234], labels[:1234])
    halves[1].update(pred[1234:], labels[1234:])
    assert halves[0].merge(halves[1]).to_state() == m.to_state()
    assert MulticlassMetrics.from_state(json.loads(json.dumps(m.to_state()))).snapshot() == m.snapshot()
    ints = MulticlassMetrics()
    ints.update(np.array([1, 2, 2]), np.array([1, 2, 3]))
    assert ints.macro_f1 == pytest.approx(f1_score([1, 2, 3], [1, 2, 2], average="macro", zero_division=0))
    with pytest.raises(DetectorError):
        MulticlassMetrics().update([1.5], [1.5])


@pytest.mark.parametrize("offset", [0.0, 1e3, 1e6])
def test_regression_metrics_equal_sklearn(offset: float) -> None:
    rng = np.random.default_rng(53)
    y = rng.normal(offset, 3.0, size=10_001)
    pred = y + rng.normal(0.2, 1.0, size=y.size)
    m = RegressionMetrics()
    m.update(pred, y)
    assert m.mae == pytest.approx(mean_absolute_error(y, pred), rel=1e-9)
    assert m.mse == pytest.approx(mean_squared_error(y, pred), rel=1e-9)
    assert m.rmse == pytest.approx(math.sqrt(mean_squared_error(y, pred)), rel=1e-9)
    assert m.r2 == pytest.approx(r2_score(y, pred), abs=1e-9)
    assert m.bias == pytest.approx(float(np.mean(pred - y)), abs=1e-9)


def test_regression_constant_target_and_merges() -> None:
    for pred in ([2.0, 2.0], [2.0, 3.0]):
        m = RegressionMetrics()
        m.update(np.array(pred), np.array([2.0, 2.0]))
        assert m.r2 == r2_score([2.0, 2.0], pred)
    rng = np.random.default_rng(54)
    y, pred = rng.lognormal(size=999), rng.lognormal(size=999)
    whole = RegressionMetrics()
    whole.update(pred, y)
    for parts in range(2, 9):
        pieces = [RegressionMetrics() for _ in range(parts)]
        for piece, p, t in zip(pieces, np.array_split(pred, parts), np.array_split(y, parts)):
            piece.update(p, t)
        merged = pieces[0]
        for piece in pieces[1:]:
            merged = merged.merge(piece)
        assert merged.to_state() == whole.to_state() and merged.snapshot() == whole.snapshot()
    assert RegressionMetrics.from_state(json.loads(json.dumps(whole.to_state()))).snapshot() == whole.snapshot()
    assert math.isnan(RegressionMetrics().rmse)
    with pytest.raises(DetectorError):
        whole.update(np.array([1.0]), np.array([np.nan]))


def test_exact_sum_is_exact_and_order_free() -> None:
    rng = np.random.default_rng(55)
    values = rng.normal(size=2_000) * 10.0 ** rng.integers(-300, 300, size=2_000)
    values = np.concatenate([values, [5e-324, -5e-324, 1e-310]])
    total = ExactSum()
    total.add(values)
    assert total.exact == sum(Fraction(v) for v in values.tolist())
    assert total.value == math.fsum(values.tolist())
    shuffled = ExactSum()
    for chunk in np.array_split(rng.permutation(values), 7):
        shuffled.add(chunk)
    assert shuffled.to_state() == total.to_state()
    moderate = values[(np.abs(values) > 1e-140) & (np.abs(values) < 1e150)]
    hi, lo = squares(moderate)
    assert all(Fraction(x) ** 2 == Fraction(h) + Fraction(l) for x, h, l in zip(moderate, hi, lo))
    big = ExactSum()
    big.add(np.array([1.7e308, 1.7e308]))
    assert big.value == float("inf")
    with pytest.raises(DetectorError):
        ExactSum.from_state("not hex")
