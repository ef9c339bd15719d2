"""``airflow-ml check``: validate pipeline files — the cheap checks, the heavy ones (estimator
and team code, notifiers, expectations, the data sample) and unique pipeline ids — and show
each file's inferred feature table, as text or (``--json``) one JSON list."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_ml_provider.pipeline_spec.errors import SpecError, SpecProblem

if TYPE_CHECKING:
    from airflow_ml_provider.pipeline_spec.errors import SpecError
    from airflow_ml_provider.pipeline_spec.options import LoaderOptions


def expand_paths(paths: list[str]) -> list[Path]:
    """Files as given, folders as the pipeline files in them."""
    from airflow_ml_provider.factory.loader import pipeline_files

    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        files.extend(pipeline_files(path) if path.is_dir() else [path])
    return files


def cmd_check(args: argparse.Namespace) -> int:
    """Validate pipeline files (cheap and deep checks, unique ids); exit 1 on any problem."""
    from airflow_ml_provider.pipeline_spec import claims
    from airflow_ml_provider.pipeline_spec.loader import load_pipeline
    from airflow_ml_provider.pipeline_spec.options import LoaderOptions

    files = expand_paths(args.paths)
    if not files:
        print("no pipeline files found", file=sys.stderr)
        if args.json:
            print("[]")
        return 1
    options = LoaderOptions.from_config()
    loaded_files = []
    for path in files:
        with contextlib.suppress(Exception):  # reported below, file by file
            loaded_files.append((path, load_pipeline(path, options)))
    lost, _ = claims.settle(loaded_files, claims.read_claims(options.parse_cache))
    records = []
    for path in files:
        record = check_file(path, options, fast=args.fast, lost=lost.get(path))
        records.append(record)
        if not args.json:
            print(text_of(record))
    failed = sum(1 for record in records if not record["valid"])
    if args.json:
        print(json.dumps(records, default=str))
    print(f"{len(files) - failed} valid, {failed} invalid", file=sys.stderr)
    return 1 if failed else 0


def check_file(
    path: Path, options: LoaderOptions, *, fast: bool, lost: SpecError | None = None
) -> dict[str, Any]:
    """One file's verdict: ``{file, pipeline, valid, problems, features, positive_class,
    warnings, data_not_read}`` (never raises: an unexpected error is the file's problem)."""
    from airflow_ml_provider.checks.data_checks import data_report
    from airflow_ml_provider.checks.deep_checks import deep_problems
    from airflow_ml_provider.pipeline_spec.loader import load_pipeline

    record: dict[str, Any] = {"file": str(path), "pipeline": None, "valid": False}
    report = None
    try:
        loaded = load_pipeline(path, options)
        record["pipeline"] = loaded.dag_id
        problems: list[SpecProblem] = []
        if not fast:
            report = data_report(loaded)
            problems = deep_problems(
                loaded,
                options.estimator_modules,
                options.transformer_modules,
                options.callables,
                report=report,
            )
        problems += lost.problems if lost is not None else []
    except SpecError as exc:
        problems = exc.problems
    except Exception as exc:  # never a traceback; the other files are still checked
        problems = SpecError.unexpected(path, exc).problems
    record["valid"] = not problems
    record["problems"] = [dataclasses.asdict(problem) for problem in problems]
    if report is not None and not problems:
        record.update(
            features=report.table.splitlines() if report.table else None,
            sample_rows=report.rows,
            positive_class=report.positive_class,
            warnings=list(report.warnings),
            data_not_read=report.skipped,
        )
    return record


def text_of(record: dict[str, Any]) -> str:
    """What ``check`` prints for one file: its problems, or ok and its feature table."""
    if not record["valid"]:
        return "\n".join(str(SpecProblem(**problem)) for problem in record["problems"])
    lines = [f"ok      {record['file']} (pipeline {record['pipeline']})"]
    if "features" not in record:
        return lines[0]
    if record["features"] is None:
        return "\n".join([*lines, f"        data not read: {record['data_not_read']}"])
    lines.append(f"        features (from a sample of {record['sample_rows']} rows):")
    extra = [f"positive class: {record['positive_class']}"] if record["positive_class"] else []
    extra += [f"warning: {line}" for line in record["warnings"]]
    return "\n".join(lines + ["          " + line for line in record["features"] + extra])
