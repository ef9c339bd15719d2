"""What every job entrypoint's ``main`` does (ml.train, ml.step): read ``--job FILE``, run
it, report an expected error in one line (exit code 2, no traceback), and write the JSON
result to the job's ``output`` (or print it). No Airflow imports."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from airflow_ml_provider.core.errors import first_line


def with_store_errors(*errors: type[BaseException]) -> tuple[type[BaseException], ...]:
    """``errors`` and MLflow's (a store that refuses a write, an unreachable server)."""
    from mlflow.exceptions import MlflowException

    return (*errors, MlflowException)


def error_line(exc: BaseException) -> str:
    """``Type: message`` of a reported error; MLflow's store errors by their cause (its SQL
    store wraps the database's own error in SQLAlchemy's hints)."""
    from mlflow.exceptions import MlflowException

    message = first_line(str(exc)) if isinstance(exc, MlflowException) else str(exc)
    return f"{type(exc).__name__}: {message}"


def job_main(
    module: str,
    run: Callable[[Any], Any],
    expected: tuple[type[BaseException], ...],
    describe: Callable[[BaseException], str],
    argv: list[str] | None = None,
) -> int:
    """``python -m <module> --job FILE``: ``run`` on the job; ``expected`` errors are told
    by ``describe`` in one line on stderr."""
    parser = argparse.ArgumentParser(prog=f"python -m {module}")
    parser.add_argument("--job", required=True, help="path of the job JSON file")
    args = parser.parse_args(argv)
    job = json.loads(Path(args.job).read_text())
    try:
        result = run(job)
    except expected as exc:
        print(f"error: {describe(exc)}", file=sys.stderr)
        return 2
    output = job.get("output") if isinstance(job, dict) else None
    if output:
        Path(output).write_text(json.dumps(result))
    else:
        print(json.dumps(result))
    return 0
