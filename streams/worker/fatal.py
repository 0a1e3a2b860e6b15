"""A dead internal task ends the worker: one line with the cause, then a non-zero exit.

faust restarts a crashed agent or timer in place, which turned one poisonous message into a crash
loop, and a task that died quietly left a worker alive but doing nothing. Neither is safe for a
monitor, so any unexpected exception in the agent, the timer or the read-ahead goes here: the
supervisor (systemd, Kubernetes, the tests) restarts the process, which resumes from its
checkpoints with nothing lost.
"""

from __future__ import annotations

import logging
import os
import sys

log = logging.getLogger("driftline.worker")

EXIT_INTERNAL_FAILURE = 70  # EX_SOFTWARE


def die(where: str, exc: BaseException) -> None:
    """Log the cause on one line and exit at once (no cleanup: the checkpoints make it safe)."""
    text = " ".join(str(exc).split())[:300]
    log.critical("worker stopping: %s failed: %s: %s", where, type(exc).__name__, text, exc_info=exc)
    for handler in logging.getLogger().handlers:
        try:
            handler.flush()
        except Exception:
            pass
    sys.stderr.flush()
    os._exit(EXIT_INTERNAL_FAILURE)
