"""PSI as a registered, stateful statistic: detectors.psi.psi over a profile's bins.

The formula and its epsilon smoothing are the ones of detectors/psi.py (not re-implemented);
this class only adds the window counts, merge and plain-data state the registry contract asks for.
"""

from __future__ import annotations

import numpy as np

from detectors.errors import DetectorError
from detectors.profile import CategoricalProfile, NumericProfile
from detectors.psi import PSI_EPSILON, psi
from detectors.stats._two_sample import TwoSampleStatistic
from detectors.stats.sketch import BinCounts


class PSI(TwoSampleStatistic):
    """Population Stability Index of a window over a numeric or categorical profile's bins.

    >>> profile = NumericProfile(edges=(50.0,), shares=(0.5, 0.5), count=100, missing_share=0.0,
    ...                          min=0.0, max=99.0, mean=49.5, std=28.87)
    >>> p = PSI(profile, epsilon=1e-4)
    >>> p.update(np.array([10.0] * 80 + [90.0] * 20))
    >>> round(p.value, 4)
    0.4159
    """

    name = "psi"
    _PARAMS = ("epsilon",)

    def __init__(self, reference: NumericProfile | CategoricalProfile, *, epsilon: float = PSI_EPSILON) -> None:
        if not epsilon > 0:
            raise DetectorError("epsilon must be > 0")
        self.reference = reference
        self.epsilon = epsilon
        self._shares = np.asarray(reference.shares, dtype=np.float64)
        self._window = BinCounts(reference)

    def _result(self) -> dict[str, float]:
        return {"psi": psi(self._shares, self._window.counts, self.epsilon)}

    @classmethod
    def _window_from_state(cls, state, reference):
        return BinCounts.from_state(state, reference)

    @property
    def value(self) -> float:
        return self._result()["psi"]
