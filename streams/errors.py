"""The one root exception of driftline's stream layer, mapped to exit codes at the CLI boundary."""


class DriftlineError(Exception):
    """Something the user can fix: bad input file, unreachable broker, missing setting."""
