"""The line a failed training is reported by (run summary, --json, failure mail subject)."""

from __future__ import annotations

from airflow_ml_provider.core.errors import first_line
from airflow_ml_provider.operators.training import training_error


def test_the_training_processes_own_error_line_wins():
    tail = ["features: ...", "error: ValueError: Solver lbfgs supports only 'l2'", "done"]
    assert training_error(tail, 2) == "ValueError: Solver lbfgs supports only 'l2'"


def test_a_traceback_gives_its_last_exception_line():
    tail = [
        "Traceback (most recent call last):",
        '  File "train.py", line 3, in <module>',
        "numpy.core._exceptions._ArrayMemoryError: Unable to allocate 8.00 GiB",
    ]
    assert training_error(tail, 1).startswith("numpy.core._exceptions._ArrayMemoryError: Unable")
    assert training_error(["Killed"], -9) == "the training process exited with code -9"


def test_first_line_skips_blank_lines_and_caps_the_length():
    assert first_line("\n  \nboom: the cause\ndetails") == "boom: the cause"
    assert len(first_line("x" * 1000)) == 300
    assert first_line("") == "(no message)"
