"""Stopping a server a test (or benchmark) started, with everything it started."""

from __future__ import annotations

import os
import signal
import subprocess
from contextlib import suppress


def stop_group(process: subprocess.Popen, first: int = signal.SIGINT, grace: float = 60) -> None:
    """Send ``first`` to the process group ``process`` leads (``start_new_session=True``),
    wait up to ``grace`` seconds, then SIGKILL whatever is left of the group."""
    os.killpg(process.pid, first)
    with suppress(subprocess.TimeoutExpired):
        process.wait(grace)
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
