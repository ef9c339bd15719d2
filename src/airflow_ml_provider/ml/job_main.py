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
