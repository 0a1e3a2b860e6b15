"""The one exception detectors raise; streams/ maps it to user-facing errors."""


class DetectorError(ValueError):
    """Bad input to a detector or a profile (wrong shape, unknown kind, malformed data)."""
