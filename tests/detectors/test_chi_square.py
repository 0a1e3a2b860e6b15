"""Chi-square of categorical windows against scipy (chi2_contingency / chisquare), and PSI."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.stats import chi2_contingency, chisquare

from detectors.errors import DetectorError
from detectors.feature_state import CategoricalWindowState, NumericWindowState
from detectors.profile import CategoricalProfile, NumericProfile
from detectors.stats.chi_square import ChiSquare, chi_square_test, reference_counts
from detectors.stats.population_stability import PSI


def _profile(rng: np.random.Generator, k: int, n: int = 50_000) -> tuple[CategoricalProfile, np.ndarray]:
    probs = rng.dirichlet(np.ones(k))
    labels = [f"c{i}" for i in rng.choice(k, size=n, p=probs)]
    return CategoricalProfile.from_values(labels), probs


def test_two_sample_equals_chi2_contingency_including_unseen() -> None:
    rng = np.random.default_rng(31)
    for k in (2, 5, 30):
        profile, probs = _profile(rng, k)
        ref = reference_counts(profile)
        assert ref.sum() == 50_000 and ref[-1] == 0
        for unseen in (0, 3, 40):
            window = np.append(rng.multinomial(5_000, probs)[np.argsort([f"c{i}" for i in range(k)])], unseen)
            result = chi_square_test(ref, window)
            table = np.vstack([ref, window])
            table = table[:, table.sum(axis=0) > 0]  # the empty unseen bucket is left out
            exact = chi2_contingency(table, correction=False)
            assert result["chi2"] == pytest.approx(exact.statistic, rel=1e-9)
            assert result["chi2_pvalue"] == pytest.approx(exact.pvalue, rel=1e-9, abs=1e-300)
            assert result["chi2_dof"] == exact.dof


def test_goodness_of_fit_equals_scipy_chisquare() -> None:
    ref = np.array([300, 500, 200, 0])
    for window in (np.array([30, 52, 18, 0]), np.array([30, 52, 18, 2])):
        result = chi_square_test(ref, window, method="goodness_of_fit")
        keep = (ref > 0) | (window > 0)
        pseudo = np.where(ref[keep] == 0, 0.5 / ref.sum(), 0.0)  # half a reference observation
        expected = window.sum() * (ref[keep] / ref.sum() * (1 - pseudo.sum()) + pseudo)
        exact = chisquare(window[keep], expected)
        assert result["chi2"] == pytest.approx(exact.statistic, rel=1e-9)
        assert result["chi2_pvalue"] == pytest.approx(exact.pvalue, rel=1e-9, abs=1e-300)


def test_degenerate_inputs() -> None:
    assert chi_square_test(np.array([10, 0]), np.array([5, 0])) == {"chi2": 0.0, "chi2_pvalue": 1.0, "chi2_dof": 0}
    assert np.isnan(chi_square_test(np.array([10, 5]), np.array([0, 0]))["chi2"])
    with pytest.raises(DetectorError):
        chi_square_test(np.array([1, 2]), np.array([1, 2, 3]))
    with pytest.raises(DetectorError):
        chi_square_test(np.array([1, 2]), np.array([1, 2]), method="g-test")
    with pytest.raises(DetectorError):
        ChiSquare(NumericProfile.from_values(np.arange(10.0), bins=2))


def test_null_false_positive_rate_is_close_to_alpha() -> None:
    # Two-sample keeps ~5% at alpha 0.05; goodness of fit, ignoring reference noise, runs hotter.
    rng = np.random.default_rng(32)
    profile, probs = _profile(rng, 10)
    order = np.argsort([f"c{i}" for i in range(10)])
    ref = reference_counts(profile)
    windows = rng.multinomial(5_000, probs, size=2_000)[:, order]
    rates = {}
    for method in ("two_sample", "goodness_of_fit"):
        p = np.array([chi_square_test(ref, np.append(w, 0), method=method)["chi2_pvalue"] for w in windows])
        rates[method] = float((p < 0.05).mean())
    assert 0.03 <= rates["two_sample"] <= 0.07
    assert rates["goodness_of_fit"] >= rates["two_sample"]


def test_chi_square_class_merges_and_round_trips() -> None:
    profile = CategoricalProfile.from_values(list("aaabbc") * 100)
    batch = list("abcabcaaz") * 20 + [None, 7]
    whole = ChiSquare(profile)
    whole.update(batch)
    parts = [ChiSquare(profile) for _ in range(3)]
    for part, chunk in zip(parts, (batch[:50], batch[50:51], batch[51:])):
        part.update(chunk)
    merged = parts[0].merge(parts[1]).merge(parts[2])
    assert merged.snapshot() == whole.snapshot()
    again = ChiSquare.from_state(json.loads(json.dumps(whole.to_state())), profile)
    assert again.snapshot() == whole.snapshot() and whole.snapshot()["type_errors"] == 1
    with pytest.raises(DetectorError):
        whole.merge(ChiSquare(profile, method="goodness_of_fit"))


def test_psi_class_equals_the_feature_state_psi() -> None:
    rng = np.random.default_rng(33)
    numeric = NumericProfile.from_values(rng.normal(size=10_000))
    values = rng.normal(0.3, 1.0, size=2_000)
    stat, state = PSI(numeric), NumericWindowState(numeric)
    stat.update(values)
    state.update(values)
    assert stat.value == state.snapshot()["psi"]
    categorical = CategoricalProfile.from_values(list("aabc"))
    stat, state = PSI(categorical), CategoricalWindowState(categorical)
    stat.update(list("abcz") * 3)
    state.update(list("abcz") * 3)
    assert stat.value == state.snapshot()["psi"]
