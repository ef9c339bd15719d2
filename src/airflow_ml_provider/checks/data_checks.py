"""Checks against the data itself, before a run: ``airflow-ml check`` and ``airflow-ml run``
read the header and a sample of a local files source and report, at the YAML's position, a
target or feature column that is not there (with a did-you-mean over the real columns), a
metric that does not fit the number of classes, and data that does not fit a declared
feature type; and show the inferred feature table.

Reads the sample the way snapshot_data reads the files (pyarrow), so the types are the ones
training will see. Never called while Airflow parses the DAG folder.
"""

from __future__ import annotations

import glob
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from airflow_ml_provider.pipeline_spec.errors import SpecProblem, did_you_mean
from airflow_ml_provider.pipeline_spec.loader import LoadedPipeline, problem_at
from airflow_ml_provider.pipeline_spec.positions import FieldPath, load_positioned

SAMPLE_ROWS = 5000
NO_FILE_YET = " matches no file (yet)"


@dataclass(frozen=True)
class DataReport:
    """What the sample showed: problems at YAML positions, the feature table, or why the
    data was not read."""

    problems: list[SpecProblem]
    table: str | None = None
    skipped: str | None = None
    rows: int = 0
    warnings: tuple[str, ...] = ()
    positive_class: str | None = None


def local_files(loaded: LoadedPipeline) -> list[Path] | str:
    """The local files of the data source, or why there are none to read here."""
    source = loaded.source
    if source.get("kind", "files") != "files":
        return f"a {source['kind']} source is read at run time only"
    uri = str(source.get("uri") or "")
    if "://" in uri and not uri.startswith("file://"):
        return f"{uri} is not a local file"
    path = uri.removeprefix("file://")
    if any(char in path for char in "*?["):
        found = sorted(Path(p) for p in glob.glob(path))
    elif path.endswith("/") or Path(path).is_dir():
        folder = Path(path)  # a folder that does not exist (yet) holds no file
        listed = folder.iterdir() if folder.is_dir() else ()
        found = sorted(p for p in listed if p.suffix in (".csv", ".parquet"))
    else:
        found = [Path(path)] if Path(path).is_file() else []
    return found or f"{uri}{NO_FILE_YET}"


def missing_data(loaded: LoadedPipeline) -> list[SpecProblem]:
    """A local files source that matches no file when the pipeline does not wait for data:
    a run would only fail at snapshot_data, so ``airflow-ml run`` says so before Airflow
    starts. Empty when the files are there, remote, or awaited (``data.wait``)."""
    found = local_files(loaded)
    if not isinstance(found, str) or loaded.spec.data.wait is not None:
        return []
    if not found.endswith(NO_FILE_YET):
        return []
    path = str(loaded.source.get("uri")).removeprefix("file://")
    message = (
        f"{path} matches no file; the run would fail at snapshot_data (set data.wait to wait "
        "for the data instead)"
    )
    return [problem_at(load_positioned(loaded.file), ("data", "source"), message)]


def read_sample(path: Path, data_format: str, rows: int = SAMPLE_ROWS):
    """The first ``rows`` rows of a csv or parquet file, typed as pyarrow types them."""
    import pyarrow as pa
    import pyarrow.csv as pv
    import pyarrow.parquet as pq

    if data_format == "parquet":
        batches = pq.ParquetFile(path, pre_buffer=False).iter_batches(batch_size=rows)
        first = next(batches, None)
        table = pa.Table.from_batches([first]) if first is not None else pq.read_schema(path)
    else:
        from airflow_ml_provider.core.formats import csv_parse_options

        reader = pv.open_csv(
            path,
            parse_options=csv_parse_options(),
            convert_options=pv.ConvertOptions(strings_can_be_null=True),
        )
        taken, count = [], 0
        for batch in reader:
            taken.append(batch)
            count += batch.num_rows
            if count >= rows:
                break
        table = pa.Table.from_batches(taken, schema=reader.schema)
    if isinstance(table, pa.Schema):
        table = table.empty_table()
    return table.slice(0, rows).to_pandas()


def _column_names(doc, spec, columns: list[str]) -> list[SpecProblem]:
    def missing(name: str) -> str:
        lowered = {c.lower(): c for c in columns}
        hint = (
            f"; did you mean '{lowered[name.lower()]}'?"
            if name.lower() in lowered
            else did_you_mean(name, columns)
        )
        return f"column {name!r} is not in the data{hint} (columns: {', '.join(columns)})"

    data, problems = spec.data, []
    if data.target not in columns:
        problems.append(problem_at(doc, ("data", "target"), missing(data.target)))
    for index, name in enumerate(data.features or []):
        if name not in columns:
            problems.append(problem_at(doc, ("data", "features", index), missing(name)))
    for name in spec.features.columns:
        if name not in columns:
            problems.append(
                problem_at(doc, ("features", "columns", name), missing(name), prefer_key=True)
            )
    for index, item in enumerate(spec.features.custom):
        for position, name in enumerate(item.columns):
            if name not in columns:
                where = ("features", "custom", index, "columns", position)
                problems.append(problem_at(doc, where, missing(name)))
    return problems


def _metric_problems(doc, spec, target) -> list[SpecProblem]:
    from airflow_ml_provider.ml.evaluation.scoring import BINARY_ONLY

    classes = target.dropna().nunique()
    if spec.training.task_type != "classification" or classes <= 2:
        return []
    evaluation, problems = spec.evaluation, []
    named: list[tuple[FieldPath, str]] = [
        (("evaluation", "primary_metric"), evaluation.primary_metric)
    ]
    named += [(("evaluation", "metrics", i), m) for i, m in enumerate(evaluation.metrics)]
    for path, metric in named:
        if metric in BINARY_ONLY:
            problems.append(
                problem_at(
                    doc,
                    path,
                    f"{metric!r} needs a binary target, but {spec.data.target!r} has "
                    f"{classes} classes in the sample; did you mean {BINARY_ONLY[metric]!r}?",
                )
            )
    return problems


MIN_ROWS_PER_CLASS = 2
"""Rows of every class each side of the split must hold (stratified splitting needs two)."""


def _split_problems(doc, spec, target, rows: int) -> list[SpecProblem]:
    """A split that leaves too few rows on one side, judged on the sample (a whole file when
    it is smaller): held-out rows for each class, training rows for each class."""
    split = spec.data.split
    known = target.dropna()
    if known.empty:
        return []
    classes = known.nunique() if spec.training.task_type == "classification" else 1
    needed = MIN_ROWS_PER_CLASS * classes
    held_out = int(rows * split.test_size)
    trained = rows - held_out
    if held_out >= needed and trained >= needed:
        return []
    side = "held-out" if held_out < needed else "training"
    message = (
        f"test_size {split.test_size} of the {rows:,} rows read leaves {min(held_out, trained)} "
        f"{side} rows; at least {MIN_ROWS_PER_CLASS} per class ({needed} for {classes} "
        "class(es)) are needed on each side"
    )
    return [problem_at(doc, ("data", "split", "test_size"), message)]


def _guard_problems(doc, spec, frame, *, whole: bool) -> list[SpecProblem]:
    """What validate_data's always-on guards would refuse on the first run, seen in the
    sample: duplicate rows (a sample holds no larger a share than the whole file) and, when
    the whole file was read, a classification target with one class."""
    from airflow_ml_provider.ml.data.guards import guard_findings

    found = guard_findings(
        frame,
        target=spec.data.target,
        max_duplicate_share=spec.validation.max_duplicate_share,
        task=spec.training.task_type,
    )
    problems = []
    for item in found:
        if item["check"] == "duplicate_rows":
            set_here = "max_duplicate_share" in spec.validation.model_fields_set
            where: tuple = ("validation", "max_duplicate_share") if set_here else ("data", "source")
            advice = (
                "; if duplicates are expected, raise validation.max_duplicate_share "
                "(1.0 turns the guard off)"
            )
        elif item["check"] == "target_classes" and whole:
            where, advice = ("data", "target"), ""
        else:
            continue
        message = f"the first run would refuse this data: {item['message']}{advice}"
        problems.append(problem_at(doc, where, message))
    return problems


def _positive_class(doc, spec, target) -> tuple[list[SpecProblem], Any]:
    """The positive class binary metrics will count (None: not a binary target), or the
    problem with evaluation.positive_class (a class the sample's target does not have)."""
    from airflow_ml_provider.ml.evaluation.scoring import PositiveClassError, positive_class

    if spec.training.task_type != "classification":
        return [], None
    try:
        return [], positive_class(target, spec.evaluation.positive_class)
    except PositiveClassError as exc:
        return [problem_at(doc, ("evaluation", "positive_class"), str(exc))], None


def _positive_words(spec, target, positive) -> str:
    """The positive class in words, for the check's table."""
    share = float((target.dropna() == positive).mean())
    configured = spec.evaluation.positive_class is not None
    how = "evaluation.positive_class" if configured else "the minority class"
    return f"{positive!r} ({how}, {share:.0%} of the sample's rows)"


def _feature_problems(doc, loaded, frame) -> tuple[list[SpecProblem], list, str | None]:
    from airflow_ml_provider.core.features import FeaturesSpec
    from airflow_ml_provider.ml.features.column_types import (
        FeatureError,
        column_problems,
        plan_features,
    )
    from airflow_ml_provider.ml.features.estimator_needs import resolve_plans
    from airflow_ml_provider.ml.features.report import feature_table

    spec = loaded.spec
    features: FeaturesSpec = spec.features
    try:
        plans = resolve_plans(
            plan_features(frame, features), spec.training.estimator, spec.training.params
        )
    except FeatureError as exc:
        return [problem_at(doc, ("features",), str(exc))], [], None
    problems = []
    for column, message in column_problems(frame, plans):
        declared = column in features.columns
        where = ("features", "columns", column) if declared else ("data", "source")
        problems.append(problem_at(doc, where, message, prefer_key=declared))
    return problems, plans, feature_table(plans)


def data_report(
    loaded: LoadedPipeline, rows: int = SAMPLE_ROWS, *, warnings: bool = True
) -> DataReport:
    """Read a sample of the pipeline's local data and check the YAML against it; with
    ``warnings`` also look for what would make its model untrustworthy (a leaking column, a
    metric of the majority class: a cross-validated tree per column)."""
    found = local_files(loaded)
    if isinstance(found, str):
        return DataReport([], skipped=found)
    data_format = loaded.spec.data.resolved_format or "csv"
    doc = load_positioned(loaded.file)
    try:
        frame = read_sample(found[0], data_format, rows)
    except Exception as exc:  # unreadable file: say which and why, at the source
        message = f"cannot read {found[0]} as {data_format}: {exc}"
        return DataReport([problem_at(doc, ("data", "source"), message)])
    spec = loaded.spec
    columns = [str(c) for c in frame.columns]
    problems = _column_names(doc, spec, columns)
    positive = None
    if spec.data.target in columns:
        problems += _metric_problems(doc, spec, frame[spec.data.target])
        class_problems, positive = _positive_class(doc, spec, frame[spec.data.target])
        problems += class_problems
        if len(frame) < rows:  # the whole file: its row count is the run's
            problems += _split_problems(doc, spec, frame[spec.data.target], len(frame))
        problems += _guard_problems(doc, spec, frame, whole=len(frame) < rows)
    if problems:
        return DataReport(problems, rows=len(frame))
    from airflow_ml_provider.ml.features.leakage import quality_warnings

    inputs = _input_frame(frame, spec)
    feature_problems, plans, table = _feature_problems(doc, loaded, inputs)
    target, task = frame[spec.data.target], spec.training.task_type
    metrics, seed = spec.evaluation.all_metrics, spec.data.split.seed
    notes = (
        quality_warnings(frame, target, task, plans, metrics, positive, seed)
        if warnings and plans and task
        else []
    )
    return DataReport(
        problems + feature_problems,
        table,
        rows=len(frame),
        warnings=tuple(notes),
        positive_class=None if positive is None else _positive_words(spec, target, positive),
    )


def _input_frame(frame, spec) -> Any:
    from airflow_ml_provider.ml.data.dataset import input_columns

    data = spec.data
    columns = input_columns(list(frame.columns), data.target, data.features)
    return frame[[c for c in columns if c != data.partition_by]]
