"""Shared plumbing of the two-sample statistics: a reference, a mergeable window, plain-data state.

A statistic class only says which window it keeps (`_new_window`), which hyperparameters it has
(`_PARAMS`) and how to read its result off the window (`_result`); update/merge/state live here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from detectors.errors import DetectorError


class TwoSampleStatistic:
    """Base class; see KolmogorovSmirnov for a runnable example.

    >>> TwoSampleStatistic.name
    ''
    """

    name: ClassVar[str] = ""
    _PARAMS: ClassVar[tuple[str, ...]] = ()

    reference: Any

    def _new_window(self, reference: Any) -> Any:  # pragma: no cover - overridden
        raise NotImplementedError

    @classmethod
    def _window_from_state(cls, state: Mapping, reference: Any) -> Any:  # pragma: no cover - overridden
        raise NotImplementedError

    def _result(self) -> dict[str, Any]:  # pragma: no cover - overridden
        raise NotImplementedError

    @property
    def window(self) -> Any:
        """The window state (GridHistogram or BinCounts); read it, don't update it directly."""
        return self._window

    @property
    def count(self) -> int:
        return self._window.count

    def update(self, values: np.ndarray | Sequence[object]) -> None:
        """Add a batch of one feature's values (NaN / None = missing)."""
        self._window.update(values)

    def _params(self) -> dict[str, Any]:
        return {p: getattr(self, p) for p in self._PARAMS}

    def merge(self, other: "TwoSampleStatistic") -> "TwoSampleStatistic":
        """A new statistic over both windows (exact: counts add, min/max combine)."""
        if type(other) is not type(self) or other._params() != self._params():
            raise DetectorError(f"only {type(self).__name__} statistics with equal parameters can be merged")
        merged = type(self)(self.reference, **self._params())
        merged._window = self._window.merge(other._window)
        return merged

    def to_state(self) -> dict[str, Any]:
        """Plain data: statistic name, hyperparameters and window state (the reference is not copied)."""
        return {"statistic": self.name, "params": self._params(), "window": self._window.to_state()}

    @classmethod
    def from_state(cls, state: Mapping, reference: Any) -> "TwoSampleStatistic":
        """Rebuild from `to_state()` data; `reference` must be the one the state was built on."""
        if not isinstance(state, Mapping) or state.get("statistic") != cls.name:
            raise DetectorError(f"state is not a {cls.name!r} state")
        params = dict(state.get("params") or {})
        if set(params) != set(cls._PARAMS):
            raise DetectorError(f"{cls.name} state needs parameters {sorted(cls._PARAMS)}")
        statistic = cls(reference, **params)
        if "window" not in state:
            raise DetectorError(f"{cls.name} state has no window")
        statistic._window = cls._window_from_state(state["window"], reference)
        return statistic

    def snapshot(self) -> dict[str, Any]:
        """Window counts and the statistic's values as plain data (NaN when the window is empty)."""
        return {**self._window.snapshot(), **self._result()}
