"""The local training process: started tied to the worker, its printed lines relayed to
the task log, its own error line read back when it fails; the warm one started early."""

from __future__ import annotations

import io
import re
import subprocess
import sys
import threading


def training_error(tail: list[str], code: int) -> str:
    """The training process's own error line: what the entrypoint printed as ``error: ...``,
    else a traceback's last line (``SomeError: message``), else its exit code."""
    for line in reversed(tail):
        if line.startswith("error: "):
            return line.removeprefix("error: ")
    for line in reversed(tail):
        if re.match(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt)\b", line):
            return line
    return f"the training process exited with code {code}"


class LogLines(io.TextIOBase):
    """A text stream that logs each complete line printed to it (training's print()s).

    A log handler that itself writes to sys.stdout (the console of a local run) would write
    back into this stream while it logs: that text goes on to the stream this one replaced.
    So does text a log writer writes here on its own (a logger made while this stream was
    sys.stdout, such as the one Airflow makes for a warning): it holds the writer's lock for
    this stream, and logging it again would wait for that lock forever.
    """

    def __init__(self, log, replaced) -> None:
        self._log, self._replaced, self._pending = log, replaced, ""
        self._inside = threading.local()

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if getattr(self._inside, "logging", False) or _from_a_log_writer():
            return self._replaced.write(text)
        self._inside.logging = True
        try:
            lines = (self._pending + text).split("\n")
            self._pending = lines.pop()
            for line in lines:
                self._log.info("%s", line)
        finally:
            self._inside.logging = False
        return len(text)

    def flush(self) -> None:
        if self._pending and not getattr(self._inside, "logging", False):
            pending, self._pending = self._pending, ""
            self.write(pending + "\n")


LOG_WRITERS = ("structlog", "logging")
"""Modules whose writes are log records already, not a program's printed lines."""


def _from_a_log_writer() -> bool:
    caller = sys._getframe(2).f_globals.get("__name__", "")
    return caller.split(".", 1)[0] in LOG_WRITERS


def spawn_tied(command: list[str], env: dict[str, str]) -> subprocess.Popen:
    """Start the training process so that it dies with the worker: on Linux the kernel sends
    it SIGTERM when its parent dies (PR_SET_PDEATHSIG), so a worker killed with -9 leaves no
    training process writing to MLflow behind. Output is piped to the caller."""
    return subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=_die_with_parent if sys.platform == "linux" else None,  # noqa: PLW1509
    )


def _die_with_parent() -> None:
    import ctypes
    import signal

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def warm_up_training(context) -> None:
    """``on_execute_callback`` of a pipeline's first step: with ``[ml_provider]
    local_training = warm``, start this worker's warm training process (without waiting),
    so that its imports are done by the time training starts."""
    from airflow_ml_provider import settings

    if settings.local_training() == settings.LOCAL_TRAINING_WARM:
        from airflow_ml_provider.ml.training.warm_process import prestart

        prestart()
