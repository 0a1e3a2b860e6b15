"""Pure statistics of driftline: numpy only, no transport, sink or wire library.

The stream layer feeds column batches into window states and reads plain-data snapshots out.
"""

from detectors.binning import bin_categorical, bin_numeric
from detectors.errors import DetectorError
from detectors.feature_state import CategoricalWindowState, NumericWindowState, new_window_state
from detectors.latency import LatencyState
from detectors.profile import CategoricalProfile, NumericProfile, ReferenceProfile, build_profile
from detectors.psi import PSI_EPSILON, psi

__all__ = [
    "PSI_EPSILON",
    "CategoricalProfile",
    "CategoricalWindowState",
    "DetectorError",
    "LatencyState",
    "NumericProfile",
    "NumericWindowState",
    "ReferenceProfile",
    "bin_categorical",
    "bin_numeric",
    "build_profile",
    "new_window_state",
    "psi",
]
