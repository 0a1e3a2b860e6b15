"""Subprocesses of the benchmark: each in its own session, killed with its whole group at the end.

Every child also gets PR_SET_PDEATHSIG=SIGKILL, so it dies with the benchmark even when the
benchmark itself is killed with SIGKILL and never reaches its cleanup.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
from pathlib import Path

_PR_SET_PDEATHSIG = 1
_running: list[subprocess.Popen] = []


def _die_with_parent() -> None:
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError:
        pass


def spawn(argv: list[str], *, env: dict[str, str], log_path: Path, cwd: Path) -> subprocess.Popen:
    """Start argv with stdout+stderr going to log_path."""
    log = log_path.open("ab")
    try:
        proc = subprocess.Popen(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=_die_with_parent)
    finally:
        log.close()  # the child holds its own copy
    _running.append(proc)
    return proc


def stop(proc: subprocess.Popen, timeout_s: float = 15.0) -> None:
    """SIGTERM to the process group, SIGKILL if it is still there after timeout_s."""
    # Signals go to the group only while the child is not reaped, so its pid cannot be reused yet.
    if proc.poll() is None:
        _signal_group(proc, signal.SIGTERM)
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            _signal_group(proc, signal.SIGKILL)
            proc.wait(timeout=10)
    if proc in _running:
        _running.remove(proc)


def stop_all() -> None:
    for proc in list(_running):
        try:
            stop(proc, timeout_s=5.0)
        except Exception:  # keep going: every other child must still be stopped
            pass


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)  # start_new_session: the group id is the child's pid
    except (ProcessLookupError, PermissionError):
        pass


def tail(path: Path, lines: int = 25) -> str:
    if not path.exists():
        return "(no log)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
