"""Everything one (model, version) window accumulates: counts, latency and per-feature states.

The profile is fixed when the window opens (a new profile applies from the next window), so all
batches of a window are binned the same way and the window stays mergeable.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from detectors.errors import DetectorError
from detectors.feature_state import CategoricalWindowState, NumericWindowState, new_window_state, window_state_from
from detectors.latency import LatencyState
from detectors.profile import ReferenceProfile

STATE_FORMAT_VERSION = 1


class ModelWindow:
    """Accumulates one window of one model version.

    >>> from detectors.profile import build_profile
    >>> w = ModelWindow(build_profile({"x": [0.0, 1.0, 2.0, 3.0]}, bins=2))
    >>> w.update({"x": np.array([0.5, 1.5, 2.5, 3.0])}, latencies_ms=np.array([3.0, 5.0, 4.0, 4.0]), events=4)
    >>> w.count, w.snapshot()["latency"]["latency_mean_ms"], round(w.snapshot()["features"]["x"]["psi"], 6)
    (4, 4.0, 0.0)
    """

    def __init__(self, profile: ReferenceProfile | None) -> None:
        self.profile = profile
        self._count = 0
        self._late = 0
        self._latency = LatencyState()
        self._features: dict[str, NumericWindowState | CategoricalWindowState] = (
            {} if profile is None else {name: new_window_state(p) for name, p in profile.features.items()}
        )
        # The prediction's own distribution against the profile's prediction profile, if it has one.
        self._prediction = None if profile is None or profile.prediction is None else new_window_state(profile.prediction)
        # CBPE's estimate of the window's performance, when the profile has a calibrator (cbpe.py).
        performance = None if profile is None else profile.performance
        self._estimate = None if performance is None else performance.estimator()
        self._numeric = tuple(n for n, s in self._features.items() if isinstance(s, NumericWindowState))
        self._categorical = tuple(n for n, s in self._features.items() if isinstance(s, CategoricalWindowState))

    @property
    def count(self) -> int:
        return self._count

    @property
    def late_count(self) -> int:
        return self._late

    @property
    def numeric_features(self) -> tuple[str, ...]:
        return self._numeric

    @property
    def categorical_features(self) -> tuple[str, ...]:
        return self._categorical

    def feature_state(self, name: str) -> NumericWindowState | CategoricalWindowState:
        """One feature's state (read-only use: benchmarks, diagnostics)."""
        return self._features[name]

    @property
    def estimates(self) -> bool:
        """Whether update() wants the prediction scores for CBPE (`scores`)."""
        return self._estimate is not None

    @property
    def prediction_kind(self) -> str | None:
        """"numeric" or "categorical" when the prediction distribution is watched, else None."""
        return None if self._prediction is None else self._prediction.profile.kind

    def update(
        self,
        columns: Mapping[str, np.ndarray | Sequence[object]],
        *,
        latencies_ms: np.ndarray,
        events: int,
        type_errors: Mapping[str, int] | None = None,
        predictions: np.ndarray | Sequence[object] | None = None,
        scores: np.ndarray | None = None,
    ) -> None:
        """Add a batch of `events` events given column-wise (only the profiled features are read);
        `predictions` (numbers, or labels for a categorical prediction profile) when watched;
        `scores` (the predictions as numbers, NaN for labels) when `estimates`."""
        self._count += events
        if self._estimate is not None and scores is not None:
            self._estimate.update(scores)
        if self._prediction is not None and predictions is not None:
            self._prediction.update(predictions)
        self._latency.update(latencies_ms)
        errors = type_errors or {}
        for name, state in self._features.items():
            values = columns[name]
            if isinstance(state, NumericWindowState):
                state.update(values, errors.get(name, 0))
            else:
                state.update(values)

    def add_late(self, n: int) -> None:
        """Events that arrived after their own window had closed are counted here."""
        self._late += n

    def merge(self, other: "ModelWindow") -> "ModelWindow":
        merged = ModelWindow(self.profile)
        merged._count = self._count + other._count
        merged._late = self._late + other._late
        merged._latency = self._latency.merge(other._latency)
        merged._features = {name: s.merge(other._features[name]) for name, s in self._features.items()}
        if self._prediction is not None:
            merged._prediction = self._prediction.merge(other._prediction)
        if self._estimate is not None:
            merged._estimate = self._estimate.merge(other._estimate)
        return merged

    def to_state(self) -> dict:
        """The window's whole state as plain data (JSON-able): what a partition hands to the merge
        of a window whose events were spread over partitions. `from_state` with the same profile
        restores it exactly; merged restored states give the statistics of one state holding all
        the events (tests/detectors/test_window_state.py)."""
        return {"format_version": STATE_FORMAT_VERSION, "count": self._count, "late_count": self._late,
                "latency": self._latency.to_state(),
                "features": {name: state.to_state() for name, state in self._features.items()},
                "prediction": None if self._prediction is None else self._prediction.to_state(),
                "estimate": None if self._estimate is None else self._estimate.to_state()}

    @classmethod
    def from_state(cls, state: Mapping, profile: ReferenceProfile | None) -> "ModelWindow":
        if not isinstance(state, Mapping) or state.get("format_version") != STATE_FORMAT_VERSION:
            raise DetectorError("unsupported or malformed model window state")
        restored = cls(profile)
        try:
            if set(state["features"]) != set(restored._features):
                raise DetectorError("model window state has other features than its profile")
            restored._count = int(state["count"])
            restored._late = int(state["late_count"])
            restored._latency = LatencyState.from_state(state["latency"])
            restored._features = {name: window_state_from(state["features"][name], s.profile)
                                  for name, s in restored._features.items()}
            if restored._prediction is not None:
                if state["prediction"] is None:
                    raise DetectorError("model window state lacks the prediction its profile watches")
                restored._prediction = window_state_from(state["prediction"], restored._prediction.profile)
            if restored._estimate is not None and state.get("estimate") is not None:
                e = restored._estimate
                restored._estimate = type(e).from_state(state["estimate"], e.calibrator, threshold=e.threshold,
                                                        decimals=e.decimals)
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, DetectorError):
                raise
            raise DetectorError(f"malformed model window state: {exc!r}") from exc
        return restored

    def snapshot(self) -> dict:
        snap = {
            "count": self._count,
            "late_count": self._late,
            "latency": self._latency.snapshot(),
            "features": {name: state.snapshot() for name, state in self._features.items()},
            "prediction": None if self._prediction is None else self._prediction.snapshot(),
        }
        if self._estimate is not None:  # CBPE (the profile has a calibrator)
            snap["estimated"] = self._estimate.snapshot()
        return snap
