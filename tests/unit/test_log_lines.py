"""The in-process training's printed lines go to the task log, and a log writer that writes
into the redirected stdout on its own does not hang the task (real structlog writers)."""

from __future__ import annotations

import io
import threading

import structlog

from airflow_ml_provider.operators.training_process import LogLines


class WriterLog:
    """A task logger whose structlog writer was made while ``stream`` was sys.stdout."""

    def __init__(self, stream) -> None:
        self.writer = structlog.WriteLogger(stream)

    def info(self, template: str, *args) -> None:
        self.writer.msg("task log: " + template % args)


def test_printed_lines_are_logged_and_a_log_writer_passes_through():
    console = io.StringIO()
    lines = LogLines(None, console)
    lines._log = WriterLog(lines)  # its writer writes into the stream it serves
    warning_writer = structlog.WriteLogger(lines)  # e.g. the logger of a warning

    def work() -> None:
        lines.write("epoch 1 loss 0.5\n")
        warning_writer.msg("UserWarning: the source could not be resolved")

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    worker.join(timeout=10)
    assert not worker.is_alive(), "a log writer writing into the stream deadlocked"
    assert console.getvalue().splitlines() == [
        "task log: epoch 1 loss 0.5",
        "UserWarning: the source could not be resolved",
    ]
