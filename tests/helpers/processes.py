"""Stopping a server a test (or benchmark) started, with everything it started."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path


def stop_group(process: subprocess.Popen, first: int = signal.SIGINT, grace: float = 60) -> None:
    """Send ``first`` to the process group ``process`` leads (``start_new_session=True``),
    wait up to ``grace`` seconds, then SIGKILL whatever is left of the group."""
    os.killpg(process.pid, first)
    with suppress(subprocess.TimeoutExpired):
        process.wait(grace)
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def start_server(
    command: list[str], env: dict[str, str], log_path: Path, ready: Callable[[], bool], wait=180
) -> subprocess.Popen:
    """Start ``command`` in a process group of its own, output to ``log_path``, and return
    once ``ready()`` is true; RuntimeError (with the log's end) if it exits or takes longer
    than ``wait`` seconds (it is stopped then)."""
    with log_path.open("w") as log:
        process = subprocess.Popen(
            command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    deadline = time.monotonic() + wait
    while not ready():
        if process.poll() is not None or time.monotonic() > deadline:
            if process.poll() is None:
                stop_group(process, grace=10)
            raise RuntimeError(f"{command[0]} did not start:\n" + log_path.read_text()[-3000:])
        time.sleep(0.5)
    return process
