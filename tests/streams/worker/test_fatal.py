"""A dead internal task ends the process at once: exit code 70, the cause on one line."""

import subprocess
import sys

CODE = """
import asyncio, logging
logging.basicConfig(level=logging.INFO)
from streams.worker.fatal import die

async def agent():
    try:
        raise RecursionError("maximum recursion depth exceeded\\nwhile decoding")
    except Exception as exc:
        die("the windows agent", exc)
    print("not reached")

asyncio.run(agent())
"""


def test_die_exits_non_zero_with_the_cause_on_one_line():
    done = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, timeout=60)
    assert done.returncode == 70
    first = done.stderr.splitlines()[0]
    assert "worker stopping: the windows agent failed: RecursionError: maximum recursion depth exceeded while decoding" \
        in first
    assert "not reached" not in done.stdout
