"""The line a failed training is reported by (run summary, --json, failure mail subject)."""

from __future__ import annotations

from airflow_ml_provider.core.errors import first_line
from airflow_ml_provider.operators.training_process import training_error


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


def test_first_line_of_a_database_error_is_the_drivers_cause():
    """What MLflow's SQL store raises on a read-only database (as printed by MLflow 3), and
    the same relayed by an MLflow server behind its error code: the driver's cause, not
    SQLAlchemy's autoflush hint; a message merely mentioning such a line keeps its first."""
    wrapped = (
        "(raised as a result of Query-invoked autoflush; consider using a session.no_autoflush "
        "block if this flush is occurring prematurely)\n"
        "(sqlite3.OperationalError) attempt to write a readonly database\n"
        "[SQL: INSERT INTO runs (run_uuid, name) VALUES (?, ?)]\n"
        "(Background on this error at: https://sqlalche.me/e/21/e3q8)"
    )
    cause = "sqlite3.OperationalError: attempt to write a readonly database"
    assert first_line(wrapped) == cause
    assert first_line(f"INTERNAL_ERROR: {wrapped}") == cause
    postgres = "(psycopg2.errors.ReadOnlySqlTransaction) cannot execute INSERT in a read-only tx"
    assert first_line(postgres) == (
        "psycopg2.errors.ReadOnlySqlTransaction: cannot execute INSERT in a read-only tx"
    )
    ours = f"training failed: the store refused\nlast lines:\n{wrapped}"
    assert first_line(ours) == "training failed: the store refused"
